"""Who holds a ledger claim: a process on a host, so that a claim can be told in flight
(its process still runs) from uncertain (its process died before recording it)."""

from __future__ import annotations

import os
import socket
from functools import cache
from pathlib import Path


def _start_ticks(pid: int) -> str:
    """When the process started (Linux clock ticks since boot), so a reused pid is not it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]


@cache
def current_owner() -> str:
    """This process, as stored in the ledger's `owner` column."""
    return f"{socket.gethostname()}:{os.getpid()}:{_start_ticks(os.getpid())}"


os.register_at_fork(after_in_child=current_owner.cache_clear)  # a helper process is not us


def owner_alive(owner: str) -> bool:
    """True while the owning process runs. A process on another host cannot be seen from
    here: its claims count as uncertain, the safe side (shown, never resent silently)."""
    host, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    return _start_ticks(pid) == start
