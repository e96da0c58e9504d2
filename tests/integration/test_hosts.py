"""Workers on different hosts sharing one PostgreSQL: each `outreach` runs in its own UTS
namespace (`unshare --uts`, root) under its own host name, against a slow SMTP server.

A live worker on host A is never uncertain from host B, and B's `--resend-uncertain` leaves
A's batch alone; A killed mid-send is recovered from B: nothing lost, at most A's batch twice.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from outreach.transports.smtp import SmtpTransport
from tests.integration.test_crash import NOW, PEOPLE, REMINDER, SlowSink, _env, _project, _sink

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="needs root and unshare(1) to give each worker its own host name",
)


@pytest.fixture
def slow_sink() -> Iterator[tuple[SlowSink, int]]:
    """A slow SMTP server on loopback: 20 ms per message."""
    yield from _sink(0.02)


def _postgres(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("several hosts share a PostgreSQL server, not an SQLite file")
    return database_url


def _on_host(host: str, cwd: Path, env: dict[str, str], *args: str, **popen: Any) -> Any:
    """`outreach ARGS…` on host `host` (a UTS namespace of its own): a Popen."""
    command = [sys.executable, "-m", "outreach.cli", *args]
    script = f'hostname {host} && exec "$@"'
    return subprocess.Popen(
        ["unshare", "--uts", "sh", "-c", script, "sh", *command],
        cwd=cwd,
        env=env,
        text=True,
        **popen,
    )


def _run(host: str, cwd: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = _on_host(host, cwd, env, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def _status(host: str, cwd: Path, env: dict[str, str]) -> dict[str, int]:
    code, out, err = _run(host, cwd, env, "status", "mexico-refugees", "--json", "--now", NOW)
    assert code == 0, err
    [row] = [r for r in json.loads(out) if (r["campaign"], r["reminder"]) == REMINDER]
    return {k: row[k] for k in ("sent", "failed", "uncertain", "sending", "pending", "audience")}


def _setup(tmp_path: Path, url: str, port: int) -> tuple[list[str], dict[str, str]]:
    everyone = _project(tmp_path)
    env = {**_env(port), "OUTREACH_DATABASE_URL": url, "OUTREACH_PROCESSES": "1"}
    assert _run("host-b", tmp_path, env, "supporters", "import", "people.csv")[0] == 0
    return everyone, env


def _wait_until_sending(sink: SlowSink, worker: Any, at_least: int) -> None:
    deadline = time.monotonic() + 120
    while sum(sink.counts().values()) < at_least:
        assert worker.poll() is None, "the worker on host A ended too soon"
        assert time.monotonic() < deadline, "host A sent too little"
        time.sleep(0.005)


def test_a_live_worker_on_host_a_is_never_uncertain_from_host_b(
    tmp_path: Path, database_url: str, slow_sink: tuple[SlowSink, int]
) -> None:
    sink, port = slow_sink
    everyone, env = _setup(tmp_path, _postgres(database_url), port)
    a = _on_host("host-a", tmp_path, env, "run", "--once", "--now", NOW, stdout=subprocess.PIPE)
    _wait_until_sending(sink, a, 20)
    seen_sending = 0
    started = time.monotonic()
    while a.poll() is None and time.monotonic() - started < 6:  # three of A's leases
        counts = _status("host-b", tmp_path, env)
        assert counts["uncertain"] == 0, counts
        seen_sending += counts["sending"] > 0
    assert seen_sending, "host B never saw host A's batch in flight"
    code, _, err = _run(
        "host-b", tmp_path, env, "run", "--once", "--now", NOW, "--resend-uncertain"
    )
    assert code == 0, err
    assert a.wait(timeout=120) == 0
    assert set(sink.counts()) == set(everyone) and set(sink.counts().values()) == {1}
    final = _status("host-b", tmp_path, env)
    assert final == {**final, "sent": PEOPLE, "uncertain": 0, "sending": 0, "pending": 0}


def test_host_a_killed_mid_send_is_recovered_from_host_b(
    tmp_path: Path, database_url: str, slow_sink: tuple[SlowSink, int]
) -> None:
    sink, port = slow_sink
    everyone, env = _setup(tmp_path, _postgres(database_url), port)
    batch = SmtpTransport.batch_size
    a = _on_host("host-a", tmp_path, env, "run", "--once", "--now", NOW, stdout=subprocess.DEVNULL)
    _wait_until_sending(sink, a, batch + 50)
    a.send_signal(signal.SIGKILL)  # not reaped yet: a zombie on host A
    deadline = time.monotonic() + 60
    while (counts := _status("host-b", tmp_path, env))["uncertain"] == 0:
        assert counts["sending"] == batch, counts  # A's lease runs out first
        assert time.monotonic() < deadline, "host A's batch never became uncertain"
    assert counts == {**counts, "sent": batch, "uncertain": batch, "sending": 0}
    a.wait()

    code, _, err = _run("host-b", tmp_path, env, "run", "--once", "--now", NOW)
    assert code == 2 and "--resend-uncertain" in err
    code, _, err = _run(
        "host-b", tmp_path, env, "run", "--once", "--now", NOW, "--resend-uncertain"
    )
    assert code == 0, err
    final = sink.counts()
    assert set(final) == set(everyone)  # nothing lost
    twice = [email for email, count in final.items() if count == 2]
    assert 0 < len(twice) <= batch and max(final.values()) == 2  # at most A's batch twice
    assert _status("host-b", tmp_path, env) == {
        "sent": PEOPLE, "failed": 0, "uncertain": 0, "sending": 0, "pending": 0, "audience": PEOPLE,
    }  # fmt: skip


def test_workers_on_two_hosts_divide_the_audience(
    tmp_path: Path, database_url: str, slow_sink: tuple[SlowSink, int]
) -> None:
    sink, port = slow_sink
    everyone, env = _setup(tmp_path, _postgres(database_url), port)
    runs = [
        _on_host(host, tmp_path, env, "run", "--once", "--now", NOW, stdout=subprocess.PIPE)
        for host in ("host-a", "host-b")
    ]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    sent = [
        int(line.rsplit("sent ", 1)[1].split(",")[0])
        for out in outputs
        for line in out.splitlines()
        if line.startswith("Total at ")
    ]
    assert sum(sent) == PEOPLE and min(sent) > 0, sent  # both worked, on different people
    assert set(sink.counts()) == set(everyone) and set(sink.counts().values()) == {1}
