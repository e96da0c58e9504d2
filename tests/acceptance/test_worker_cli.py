"""The long-running worker as a server runs it: `outreach run --sweep 1 --now T` in a folder.

`--now T` starts the worker's clock at T (it then runs at real speed), so that the demo's
2018 campaign can be worked on today. The worker logs to stderr; the tests read that log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from outreach.store import queue as queue_store
from outreach.store.db import open_database
from tests.acceptance.conftest import Outreach

START = "2018-02-01T18:00:00Z"  # after 09:00 everywhere in Canada; nothing of the demo is due


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Poll until `condition` holds; fail after `timeout` seconds (a guard, not a measure)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("gave up waiting")
        time.sleep(0.05)


class Worker:
    """`outreach run` in the background, its log in a file."""

    def __init__(self, project: Path, *args: str, name: str = "worker") -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTREACH_", "SMTP_"))}
        self.log_path = project / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "outreach.cli", "run", *args],
                cwd=project,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log(self) -> str:
        """Everything the worker logged so far."""
        return self.log_path.read_text(encoding="utf-8")

    def wait_for_log(self, text: str, count: int = 1) -> None:
        """Until `text` appears `count` times in the log (fails if the worker exits)."""

        def logged() -> bool:
            assert self.process.poll() is None, self.log()
            return self.log().count(text) >= count

        wait_for(logged)

    def terminate(self) -> int:
        """SIGTERM, then the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def kill(self) -> None:
        """Make sure it is gone."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@pytest.fixture
def workers(project: Path) -> Iterator[Callable[..., Worker]]:
    """Starts workers in the project; kills any still running at the end."""
    started: list[Worker] = []

    def start(*args: str, name: str = "worker") -> Worker:
        worker = Worker(project, *args, name=name)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()


def _folder(project: Path, reminder: str) -> Path:
    return project / "outbox" / "mexico-refugees" / reminder


def _status(outreach: Outreach) -> dict[str, dict[str, int]]:
    rows = json.loads(outreach("status", "--json", "--now", "2018-02-01T19:00:00Z").stdout)
    return {row["reminder"]: row for row in rows}


def test_a_running_worker_picks_up_the_queue_and_edits_and_stops_on_sigterm(
    project: Path, outreach: Outreach, workers: Callable[..., Worker]
) -> None:
    (project / ".env").write_text("OUTREACH_HEARTBEAT=heartbeat.json\n", encoding="utf-8")
    outreach("supporters", "import", "examples/supporters.csv")
    assert "no worker heartbeat" in outreach("health", check=False).stderr
    worker = workers("--sweep", "1", "--now", START)
    wait_for(lambda: (project / "heartbeat.json").exists())
    assert "worker heartbeat: " in outreach("health").stdout

    # An ad-hoc reminder queued through the CLI is sent without a restart.
    added = outreach(
        "queue",
        "add",
        "mexico-refugees",
        "--template",
        "last-call",
        "--at",
        "2018-02-01T18:00:03Z",
        "--tag",
        "mexico",
        "--now",
        START,
    )
    first = added.stdout.split()[-1]
    worker.wait_for_log(f"reminder=queued-{first} ")

    # An invalid edit is refused with `check`'s messages; the last valid campaign keeps running
    # and still sends what is queued.
    schedules = project / "schedules.yaml"
    valid = schedules.read_text(encoding="utf-8")
    schedules.write_text(valid.replace("offset: -14d", "offset: -14x"), encoding="utf-8")
    worker.wait_for_log("reload refused")
    line = valid.splitlines().index("        offset: -14d") + 1
    assert f"schedules.yaml:{line}: bad offset '-14x'" in worker.log()
    engine = open_database(f"sqlite:///{project / 'outreach.db'}")
    second = queue_store.add(
        engine,
        campaign="mexico-refugees",
        template="last-call",
        milestone="bilateral-dialogue",
        at=datetime(2018, 2, 1, 18, tzinfo=UTC),
        targets=(),
        tags=("refugees",),
        languages=(),
        regions=(),
        expires=timedelta(days=1),
        now=datetime(2018, 2, 1, 18, tzinfo=UTC),
    )
    engine.dispose()
    worker.wait_for_log(f"reminder=queued-{second} ")
    assert not _folder(project, "two-weeks-before").exists()

    # The milestone moves: the reminder two weeks before it is due now, and goes out.
    schedules.write_text(valid.replace("date: 2018-03-15", "date: 2018-02-15"), encoding="utf-8")
    worker.wait_for_log("reminder=two-weeks-before ")
    assert "reloaded schedules.yaml: 2 campaigns, 3 reminders" in worker.log()

    # SIGHUP reloads too; SIGTERM stops the worker cleanly.
    worker.process.send_signal(signal.SIGHUP)
    worker.wait_for_log("reloaded schedules.yaml", count=2)
    assert worker.terminate() == 0
    assert worker.log().rstrip().endswith("stopped")

    status = _status(outreach)
    for reminder in (f"queued-{first}", f"queued-{second}", "two-weeks-before"):
        files = list(_folder(project, reminder).glob("*.eml"))
        assert files, reminder
        assert status[reminder]["sent"] == len(files)
        assert status[reminder]["uncertain"] == status[reminder]["pending"] == 0
    assert status["day-before"]["sent"] == 0


def test_two_workers_on_one_sqlite_file_send_each_email_once(
    project: Path, outreach: Outreach, workers: Callable[..., Worker]
) -> None:
    outreach("supporters", "import", "examples/supporters.csv")
    both = [
        workers("--sweep", "1", "--now", "2018-03-02T04:00:00Z", name=f"worker-{i}")
        for i in range(2)
    ]

    def sent_by(worker: Worker) -> int:
        return sum(
            int(line.split(" sent=")[1].split()[0])
            for line in worker.log().splitlines()
            if " batch campaign=" in line
        )

    wait_for(lambda: sum(sent_by(worker) for worker in both) >= 49)
    for worker in both:  # one may still be starting when the other has sent everything
        worker.wait_for_log("worker started")
    assert [worker.terminate() for worker in both] == [0, 0]
    files = list(_folder(project, "two-weeks-before").glob("*.eml"))
    assert sum(sent_by(worker) for worker in both) == len(files) == 49
    rows = json.loads(outreach("status", "--json", "--now", "2018-03-02T04:00:00Z").stdout)
    [row] = [r for r in rows if r["reminder"] == "two-weeks-before"]
    assert (row["sent"], row["uncertain"], row["pending"]) == (49, 0, 0)


def test_the_worker_refuses_to_start_on_an_invalid_campaign(
    project: Path, outreach: Outreach
) -> None:
    schedules = project / "schedules.yaml"
    text = schedules.read_text(encoding="utf-8")
    schedules.write_text(text.replace("offset: -14d", "offset: -14x"), encoding="utf-8")
    result = outreach("run", check=False)
    assert result.returncode == 1
    assert "schedules.yaml:" in result.stderr and "Traceback" not in result.stderr
    health = outreach("health", check=False)
    assert health.returncode == 1
    assert health.stderr.strip().splitlines() == [
        "error: schedules.yaml: 1 problem (see `outreach check`)"
    ]
    dry = outreach("run", "--dry-run", check=False)
    assert (dry.returncode, dry.stderr.strip()) == (1, "error: --dry-run works with --once only")


def _many_supporters(project: Path, count: int) -> Path:
    """A CSV of `count` supporters in Ontario, all due for the demo's first reminder."""
    path = project / "many.csv"
    lines = ["email,first_name,city,region,language"]
    lines += [f"s{i}@example.org,Supporter{i},Ottawa,ON,en" for i in range(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_sigterm_after_a_reload_mid_send_stops_after_the_batch_in_hand(
    project: Path, outreach: Outreach, workers: Callable[..., Worker]
) -> None:
    """An edit of schedules.yaml reloaded during a long send must not detach the running
    send from the worker's stop: SIGTERM still ends it after the batch in hand."""
    count = 3000
    (project / ".env").write_text("OUTREACH_PROCESSES=1\n", encoding="utf-8")
    outreach("supporters", "import", str(_many_supporters(project, count)))
    folder = _folder(project, "two-weeks-before")
    worker = workers("--sweep", "1", "--now", "2018-03-01T14:00:30Z")
    wait_for(lambda: folder.is_dir() and any(folder.iterdir()))
    schedules = project / "schedules.yaml"
    edited = schedules.read_text(encoding="utf-8").replace(
        "Protect refugees in Mexico", "Protect refugees in Mexico now"
    )
    schedules.write_text(edited, encoding="utf-8")
    worker.process.send_signal(signal.SIGHUP)
    worker.wait_for_log("reloaded")
    assert worker.terminate() == 0
    sent_before = len(list(folder.glob("*.eml")))
    assert 0 < sent_before < count, "the send went on to its end after SIGTERM"
    status = _status(outreach)["two-weeks-before"]
    assert status["uncertain"] == 0
    outreach("run", "--once", "--now", "2018-03-01T14:00:40Z")
    emails = list(folder.glob("*.eml"))
    assert len(emails) == count
    rows = json.loads(outreach("status", "--json", "--now", "2018-03-01T15:00:00Z").stdout)
    first = next(row for row in rows if row["reminder"] == "two-weeks-before")
    assert first["sent"] == count and first["uncertain"] == 0
