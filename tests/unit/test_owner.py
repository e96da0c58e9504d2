"""A ledger claim's owner: alive while its process runs, gone once it died."""

from __future__ import annotations

import socket
import subprocess
import sys

from outreach.store.owner import current_owner, owner_alive


def test_this_process_is_alive() -> None:
    assert owner_alive(current_owner())


def test_a_finished_process_is_not() -> None:
    child = subprocess.run(
        [sys.executable, "-c", "from outreach.store.owner import current_owner as o; print(o())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert not owner_alive(child.stdout.strip())


def test_a_reused_pid_with_another_start_time_is_not() -> None:
    host, pid, start = current_owner().split(":")
    assert not owner_alive(f"{host}:{pid}:{start}1")


def test_another_host_counts_as_gone_and_garbage_is_not_alive() -> None:
    _, pid, start = current_owner().split(":")
    assert not owner_alive(f"not-{socket.gethostname()}:{pid}:{start}")
    assert not owner_alive("")
    assert not owner_alive("host:notapid:1")
