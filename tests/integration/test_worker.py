"""The worker in-process over a real store: fire jobs, reloads, one dispatch at a time, stop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from outreach.app import App
from outreach.clock import WorkerClock
from outreach.config import Settings
from outreach.delivery.results import RunReport
from outreach.store import ledger
from outreach.store import queue as queue_store
from outreach.store.people import import_supporters
from outreach.supporters.csvfile import parse_supporters
from outreach.testing import MemoryEmailTransport
from outreach.worker.health import check_health, heartbeat_age, write_heartbeat
from outreach.worker.scheduler import Worker, build_worker
from tests.conftest import copy_demo

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2018, 3, 1, tzinfo=UTC)
DUE_EVERYWHERE = datetime(2018, 3, 2, 4, 0, tzinfo=UTC)
EXPECTED = 49  # the demo's 50 supporters but one whose implied consent lapsed
TORONTO_NINE = "fire:mexico-refugees:two-weeks-before:2018-03-01T14:00:00+00:00"


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll until `condition` holds; fail after `timeout` seconds (a guard, not a measure)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("gave up waiting")
        time.sleep(0.02)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The demo campaign in a temporary folder, its supporters in a fresh store."""
    copy_demo(tmp_path, examples=False)
    settings = Settings(
        database_url=database_url,
        schedules=tmp_path / "schedules.yaml",
        templates=tmp_path / "templates",
        outbox=tmp_path / "outbox",
        heartbeat=tmp_path / "heartbeat.json",
    )
    with (REPO / "examples" / "supporters.csv").open(encoding="utf-8", newline="") as handle:
        import_supporters(App(settings).engine, parse_supporters(handle, "supporters.csv"), NOW)
    return settings


def _worker(
    settings: Settings, start: datetime, transport: MemoryEmailTransport | None = None
) -> Worker:
    """A worker whose clock starts at `start`; emails go to `transport` (default: the outbox)."""
    worker = build_worker(App(settings), WorkerClock.starting_at(start))
    if transport is not None:
        worker.dispatcher.email_transport = transport
        worker.dispatcher.chunk_size = transport.batch_size
    return worker


def _fire_jobs(worker: Worker) -> dict[str, datetime]:
    return {
        job.id: job.next_run_time
        for job in worker.scheduler.get_jobs()
        if job.id.startswith("fire:")
    }


def _edit(settings: Settings, change: Callable[[dict[str, object]], None]) -> None:
    data = yaml.safe_load(settings.schedules.read_text(encoding="utf-8"))
    change(data)
    settings.schedules.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def _reminders(data: dict[str, object]) -> dict[str, dict[str, object]]:
    return data["campaigns"]["mexico-refugees"]["reminders"]  # type: ignore[index, no-any-return]


def test_fire_jobs_follow_the_schedule_as_it_is_edited(settings: Settings) -> None:
    worker = _worker(settings, NOW)
    worker.scheduler.start(paused=True)
    try:
        worker.refresh_fire_jobs()
        jobs = _fire_jobs(worker)
        assert TORONTO_NINE in jobs
        assert all(":two-weeks-before:2018-03-01T" in job_id for job_id in jobs)
        # The job runs when the worker's clock (started at NOW) reads 14:00 UTC.
        toronto = jobs[TORONTO_NINE] + worker.clock.offset
        assert toronto == datetime(2018, 3, 1, 14, tzinfo=UTC)

        def move(data: dict[str, object]) -> None:
            milestones = data["campaigns"]["mexico-refugees"]["milestones"]  # type: ignore[index]
            milestones["bilateral-dialogue"]["date"] = "2018-03-16"

        _edit(settings, move)
        assert worker.reload()
        moved = _fire_jobs(worker)
        assert TORONTO_NINE not in moved
        assert "fire:mexico-refugees:two-weeks-before:2018-03-02T14:00:00+00:00" in moved
        assert not worker.reload()  # nothing changed since

        _edit(settings, lambda data: _reminders(data).pop("two-weeks-before"))
        assert worker.reload()
        assert _fire_jobs(worker) == {}
    finally:
        worker.scheduler.shutdown(wait=False)
    worker.clock = WorkerClock.starting_at(DUE_EVERYWHERE)
    worker.dispatch()
    assert ledger.counts_by_reminder(worker.dispatcher.engine) == {}  # the removed one never fires


def test_an_invalid_edit_is_refused_and_the_last_valid_campaign_keeps_running(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    transport = MemoryEmailTransport()
    worker = _worker(settings, DUE_EVERYWHERE, transport)
    before = worker.dispatcher
    text = settings.schedules.read_text(encoding="utf-8")
    settings.schedules.write_text(text.replace("offset: -14d", "offset: -14x"), encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="outreach.worker.reload"):
        assert not worker.reload()
    line = text.splitlines().index("        offset: -14d") + 1
    [problem, refused] = [
        r.getMessage() for r in caplog.records if r.name == "outreach.worker.reload"
    ]
    assert problem.startswith(f"{settings.schedules}:{line}: ") and "-14x" in problem
    assert "reload refused" in refused

    caplog.clear()
    settings.schedules.write_text(text, encoding="utf-8")
    template = settings.templates / "last-call.en.j2"
    template.write_text(template.read_text(encoding="utf-8") + "{% if %}", encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="outreach.worker.reload"):
        assert not worker.reload()
    [problem, refused] = [
        r.getMessage() for r in caplog.records if r.name == "outreach.worker.reload"
    ]
    assert problem.startswith(f"{template}:"), problem
    assert worker.dispatcher is before
    worker.dispatch()
    assert len(transport.received) == EXPECTED  # still running the last valid schedule


def test_a_fire_job_runs_however_late_it_starts(settings: Settings) -> None:
    transport = MemoryEmailTransport()
    halifax_nine = datetime(2018, 3, 1, 13, tzinfo=UTC)
    worker = _worker(settings, halifax_nine - timedelta(seconds=2), transport)
    worker.scheduler.start(paused=True)
    try:
        worker.refresh_fire_jobs()
        assert "fire:mexico-refugees:two-weeks-before:2018-03-01T13:00:00+00:00" in _fire_jobs(
            worker
        )
        time.sleep(4)  # the job is now 2 s late: APScheduler's default grace would drop it
        worker.scheduler.resume()
        wait_for(lambda: bool(transport.received))
    finally:
        worker.scheduler.shutdown(wait=True)
    assert transport.received


def test_a_queued_reminder_gets_a_fire_job_until_it_is_cancelled(settings: Settings) -> None:
    worker = _worker(settings, NOW)
    queued = queue_store.add(
        worker.dispatcher.engine,
        campaign="mexico-refugees",
        template="last-call",
        milestone="bilateral-dialogue",
        at=datetime(2018, 3, 1, 20, 30, tzinfo=UTC),
        targets=(),
        tags=(),
        languages=(),
        regions=(),
        expires=timedelta(days=1),
        now=NOW,
    )
    job_id = f"fire:mexico-refugees:queued-{queued}:2018-03-01T20:30:00+00:00"
    worker.scheduler.start(paused=True)
    try:
        worker.refresh_fire_jobs()
        assert job_id in _fire_jobs(worker)
        assert queue_store.cancel(worker.dispatcher.engine, queued)
        worker.refresh_fire_jobs()
        assert job_id not in _fire_jobs(worker)
    finally:
        worker.scheduler.shutdown(wait=False)


def test_a_dispatch_asked_for_while_one_runs_waits_its_turn(settings: Settings) -> None:
    transport = MemoryEmailTransport(hold=True)
    worker = _worker(settings, DUE_EVERYWHERE, transport)
    runs: list[datetime] = []
    dispatcher = worker.dispatcher
    run_once = dispatcher.run_once

    def counted(now: datetime, *, dry_run: bool = False) -> RunReport:
        runs.append(now)
        return run_once(now, dry_run=dry_run)

    dispatcher.run_once = counted  # type: ignore[method-assign]
    first = threading.Thread(target=worker.dispatch)
    first.start()
    assert transport.inside.wait(timeout=30)
    second = threading.Thread(target=worker.dispatch)
    second.start()
    second.join(timeout=30)
    assert not second.is_alive() and first.is_alive()  # it left its request to the first
    assert len(runs) == 1
    transport.gate.set()
    first.join(timeout=30)
    assert len(runs) == 2  # the request was honoured once the first run finished
    assert transport.most_busy == 1
    assert len(transport.received) == len(set(transport.received)) == EXPECTED


def test_stop_records_the_batch_in_hand_and_sends_no_other(settings: Settings) -> None:
    transport = MemoryEmailTransport(hold=True)
    worker = _worker(settings, DUE_EVERYWHERE, transport)
    dispatching = threading.Thread(target=worker.dispatch)
    dispatching.start()
    assert transport.inside.wait(timeout=30)
    stopping = threading.Thread(target=worker.stop)
    stopping.start()
    wait_for(lambda: worker.dispatcher.stopping)
    transport.gate.set()
    stopping.join(timeout=30)
    dispatching.join(timeout=30)
    assert not stopping.is_alive() and not dispatching.is_alive()
    assert len(transport.received) == transport.batch_size
    counts = ledger.counts_by_reminder(worker.dispatcher.engine)
    assert counts[("mexico-refugees", "two-weeks-before", "email")] == {
        ledger.SENT: transport.batch_size
    }
    assert transport.closed
    worker.dispatch()  # a stopped worker starts nothing
    assert len(transport.received) == transport.batch_size


def test_the_watch_writes_a_heartbeat_that_health_reads(settings: Settings) -> None:
    worker = _worker(settings, NOW)
    heartbeat = settings.heartbeat
    assert heartbeat is not None
    limit = timedelta(minutes=3)
    assert check_health(settings, limit)[1] == [
        f"no worker heartbeat at {heartbeat}: is the worker running?"
    ]
    worker.watch()
    assert heartbeat_age(heartbeat, datetime.now(UTC)) < timedelta(minutes=1)
    fine, wrong = check_health(settings, limit)
    assert wrong == []
    assert [line.split(":")[0] for line in fine] == [
        "database",
        str(settings.schedules),
        "worker heartbeat",
    ]
    write_heartbeat(heartbeat, datetime.now(UTC) - timedelta(minutes=10))
    [stale] = check_health(settings, limit)[1]
    assert stale.startswith("worker heartbeat is ") and "is the worker running?" in stale
    broken = settings.model_copy(
        update={"database_url": "sqlite:////nonexistent/folder/outreach.db"}
    )
    assert check_health(broken, limit)[1][0].startswith("database: ")
