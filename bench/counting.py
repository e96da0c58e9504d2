"""Count the renderings a send takes, in this process and the helpers it forks.

    python bench/counting.py ARGS…     # `outreach ARGS…`, then prints one line "renderings: …"

`count_renderings()` wraps the Renderer's two ways to render an email: `render_shared` (one
rendering a group of supporters shares) and `render_email` (one supporter's email alone,
including the checks that a group's rendering fills into its first supporter's email as if
rendered alone). The counters live in shared memory, so forked helpers add to them.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

from outreach.rendering.renderer import Renderer


def count_renderings() -> Callable[[], tuple[int, int]]:
    """Start counting; the returned function gives (shared renderings, renderings alone)."""
    counts = multiprocessing.get_context("fork").Array("q", 2)

    def counted(method: Callable[..., Any], slot: int) -> Callable[..., Any]:
        @wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with counts.get_lock():
                counts[slot] += 1
            return method(*args, **kwargs)

        return wrapper

    Renderer.render_shared = counted(Renderer.render_shared, 0)  # type: ignore[method-assign]
    Renderer.render_email = counted(Renderer.render_email, 1)  # type: ignore[method-assign]
    return lambda: (counts[0], counts[1])


def describe(counts: tuple[int, int]) -> str:
    """`renderings: 8 shared, 8 alone`."""
    return f"renderings: {counts[0]} shared, {counts[1]} alone"


if __name__ == "__main__":
    totals = count_renderings()
    parent = os.getpid()
    atexit.register(lambda: os.getpid() == parent and print(describe(totals()), flush=True))
    sys.argv = ["outreach", *sys.argv[1:]]
    from outreach.cli.main import main

    main()
