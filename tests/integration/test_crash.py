"""Crash safety through the CLI: `kill -9` mid-send against a slow SMTP server, and two runs
at once on one SQLite file. The SMTP server (aiosmtpd) counts every message it receives."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, select

from outreach.store.schema import ledger, supporters
from outreach.transports.smtp import SmtpTransport
from tests.conftest import copy_demo

REPO = Path(__file__).resolve().parents[2]
NOW = "2018-03-02T04:00:00Z"  # the demo's two-weeks-before reminder is due everywhere
PEOPLE = 450  # more than two SMTP batches
REMINDER = ("mexico-refugees", "two-weeks-before")


class SlowSink:
    """An SMTP server's handler that notes each recipient on arrival, then takes its time."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self._received: list[str] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self._received.extend(address.lower() for address in envelope.rcpt_tos)
        await asyncio.sleep(self.delay)
        return "250 2.0.0 queued"

    def counts(self) -> Counter[str]:
        """Messages received so far, by recipient."""
        with self._lock:
            return Counter(self._received)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _sink(delay: float) -> Iterator[tuple[SlowSink, int]]:
    handler = SlowSink(delay)
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def slow_sink() -> Iterator[tuple[SlowSink, int]]:
    """A slow SMTP server on loopback: 20 ms per message and connection."""
    yield from _sink(0.02)


@pytest.fixture
def fast_sink() -> Iterator[tuple[SlowSink, int]]:
    """An SMTP server on loopback that answers at once."""
    yield from _sink(0.0)


def _project(tmp_path: Path) -> list[str]:
    """The demo campaign with PEOPLE express-consent supporters; returns their addresses."""
    copy_demo(tmp_path, examples=False)
    emails = [f"person{i:04d}@example.org" for i in range(PEOPLE)]
    rows = [
        f"{email},Person,{i},Ottawa,ON,{'fr' if i % 2 else 'en'},express,2017-06-01"
        for i, email in enumerate(emails)
    ]
    header = "email,first_name,last_name,city,region,language,consent,consent_date"
    (tmp_path / "people.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return emails


def _env(port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTREACH_", "SMTP_"))}
    env.update(
        OUTREACH_EMAIL_TRANSPORT="smtp",
        OUTREACH_SECRET_KEY="a-test-secret-for-unsubscribe-links",
        OUTREACH_PUBLIC_URL="https://act.example.org",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(port),
        SMTP_SECURITY="none",
        OUTREACH_LEASE_SECONDS="2",  # a killed run's claims are uncertain 2 s later
    )
    return env


def _outreach(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "outreach.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _start(cwd: Path, env: dict[str, str], *args: str, **streams: Any) -> subprocess.Popen[str]:
    """`outreach ARGS…` started in the background (`streams`: stdout/stderr for Popen)."""
    return subprocess.Popen(
        [sys.executable, "-m", "outreach.cli", *args], cwd=cwd, env=env, text=True, **streams
    )


def _status(cwd: Path, env: dict[str, str]) -> dict[str, int]:
    result = _outreach(cwd, env, "status", "mexico-refugees", "--json", "--now", NOW)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    [row] = [r for r in rows if (r["campaign"], r["reminder"]) == REMINDER]
    return {key: row[key] for key in ("sent", "failed", "uncertain", "pending")}


def _uncertain_emails(cwd: Path) -> set[str]:
    engine = create_engine(f"sqlite:///{cwd / 'outreach.db'}")
    query = (
        select(supporters.c.email)
        .join(ledger, ledger.c.supporter_id == supporters.c.id)
        .where(ledger.c.state == "claimed", ledger.c.channel == "email")
    )
    with engine.connect() as conn:
        found = {str(email).lower() for email in conn.execute(query).scalars()}
    engine.dispose()
    return found


def test_kill_9_mid_send_loses_nothing_and_sends_twice_only_on_request(
    tmp_path: Path, slow_sink: tuple[SlowSink, int]
) -> None:
    sink, port = slow_sink
    env = _env(port)
    everyone = _project(tmp_path)
    assert _outreach(tmp_path, env, "supporters", "import", "people.csv").returncode == 0
    batch = SmtpTransport.batch_size

    # 1. A run is killed with SIGKILL while its second batch is on the wire.
    run = _start(
        tmp_path,
        env,
        *("run", "--once", "--now", NOW),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while sum(sink.counts().values()) < batch + 50:
        assert run.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "the run sent too little"
        time.sleep(0.005)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    assert sum(sink.counts().values()) < 2 * batch, "killed too late: the second batch was done"

    # 2. The claimed-but-unrecorded batch is reported as uncertain (once its lease expired).
    deadline = time.monotonic() + 60
    while _status(tmp_path, env)["uncertain"] == 0:
        assert time.monotonic() < deadline, "the killed run's claims never became uncertain"
    assert _status(tmp_path, env) == {
        "sent": batch,
        "failed": 0,
        "uncertain": batch,
        "pending": PEOPLE - 2 * batch,
    }
    uncertain = _uncertain_emails(tmp_path)
    before_restart = sink.counts()
    assert len(uncertain) == batch
    arrived_before_the_kill = {email for email in uncertain if before_restart[email]}
    assert arrived_before_the_kill and arrived_before_the_kill != uncertain

    # 3. The restarted run sends everything else, and not the uncertain batch: exit 2.
    restarted = _outreach(tmp_path, env, "run", "--once", "--now", NOW)
    assert restarted.returncode == 2, restarted.stderr
    assert "uncertain" in restarted.stderr and "--resend-uncertain" in restarted.stderr
    after_restart = sink.counts()
    for email in everyone:
        expected = before_restart[email] if email in uncertain else 1
        assert after_restart[email] == expected, email
    assert _status(tmp_path, env) == {
        "sent": PEOPLE - batch,
        "failed": 0,
        "uncertain": batch,
        "pending": 0,
    }

    # 4. The organizer chooses to resend it: everyone has their email, and only those of the
    #    uncertain batch that the server had already received get it twice.
    resent = _outreach(tmp_path, env, "run", "--once", "--now", NOW, "--resend-uncertain")
    assert resent.returncode == 0, resent.stderr
    final = sink.counts()
    assert set(final) == set(everyone)
    assert {email for email, count in final.items() if count == 2} == arrived_before_the_kill
    assert max(final.values()) == 2
    assert _status(tmp_path, env) == {"sent": PEOPLE, "failed": 0, "uncertain": 0, "pending": 0}


def test_two_runs_at_once_on_one_sqlite_file_send_everything_once(
    tmp_path: Path, fast_sink: tuple[SlowSink, int]
) -> None:
    sink, port = fast_sink
    env = _env(port)
    everyone = _project(tmp_path)
    assert _outreach(tmp_path, env, "supporters", "import", "people.csv").returncode == 0
    runs = [
        _start(
            tmp_path,
            env,
            *("run", "--once", "--now", NOW),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    # A batch the other run still has on the wire is in flight, not uncertain: both exit 0.
    assert [run.returncode for run in runs] == [0, 0], outputs
    counts = sink.counts()
    assert set(counts) == set(everyone)
    assert set(counts.values()) == {1}
    reported = sum(
        int(line.rsplit("sent ", 1)[1].split(",")[0])
        for stdout, _ in outputs
        for line in stdout.splitlines()
        if line.startswith("Total at ")
    )
    assert reported == PEOPLE
    assert _status(tmp_path, env) == {"sent": PEOPLE, "failed": 0, "uncertain": 0, "pending": 0}


def test_sigterm_mid_send_records_the_batch_in_hand_and_exits_0(
    tmp_path: Path, slow_sink: tuple[SlowSink, int]
) -> None:
    sink, port = slow_sink
    env = _env(port)
    everyone = _project(tmp_path)
    assert _outreach(tmp_path, env, "supporters", "import", "people.csv").returncode == 0
    worker = _start(
        tmp_path,
        env,
        *("run", "--sweep", "1", "--now", NOW),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while sum(sink.counts().values()) < 20:
        assert worker.poll() is None, worker.communicate()[0]
        assert time.monotonic() < deadline, "the worker sent nothing"
        time.sleep(0.005)
    worker.send_signal(signal.SIGTERM)
    log, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0, log
    batch = SmtpTransport.batch_size
    counts = sink.counts()
    assert len(counts) == batch and set(counts.values()) == {1}
    assert set(counts) <= set(everyone)
    assert _status(tmp_path, env) == {
        "sent": batch,
        "failed": 0,
        "uncertain": 0,
        "pending": PEOPLE - batch,
    }
    assert "stopping: finishing the batch in hand" in log and log.rstrip().endswith("stopped")
