"""Bounded waiting between retries: exponential backoff with jitter, or a server-given reset.

Shared by the transports. The helpers take their clock, sleep and randomness as arguments
so that tests run without waiting.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

_shared = random.Random()


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """The delay in seconds before retry number `attempt` (0 for the first retry).

    Drawn uniformly from the upper half of `min(cap, base * 2**attempt)` ("equal jitter"),
    so delays grow yet parallel clients do not retry in step.
    """
    ceiling = min(cap, base * 2.0 ** min(attempt, 64))
    return ceiling / 2 + (rng or _shared).uniform(0, ceiling / 2)


def backoff_delays(
    attempts: int, base: float, cap: float, rng: random.Random | None = None
) -> Iterator[float]:
    """Yield `attempts` delays in seconds, as `backoff_delay` gives them one after another."""
    for attempt in range(attempts):
        yield backoff_delay(attempt, base, cap, rng)


def sleep_until_reset(
    reset_epoch: float,
    now: Callable[[], float],
    sleep: Callable[[float], None],
    limit: float,
) -> float:
    """Sleep until `reset_epoch` (Unix seconds, as rate-limit headers give), at most `limit`.

    Returns the seconds slept (0 when the reset is already past).
    """
    delay = min(max(0.0, reset_epoch - now()), limit)
    if delay > 0:
        sleep(delay)
    return delay
