"""The long-running worker: APScheduler is the clock, dispatch does everything else.

The worker holds no business rule: it only decides *when* to call `Dispatcher.run_once`.
A job fires at each distinct instant a send fires in a time zone in use (over the next
48 hours, recomputed on every sweep and reload), and a periodic sweep catches everything
else that is due: late joiners, queued reminders, instants missed while the worker was down.
Lateness is governed by each reminder's `expires` (dispatch only sends while due), never by
APScheduler's misfire grace. The ledger makes sending idempotent, however often dispatch runs.
A worker whose campaign files differ from the leading worker's dispatches nothing until they
match (`worker/agreement.py`).

A watch job reloads the campaign files when they change and writes the heartbeat. The
scheduler runs in the background; the main thread waits for signals (SIGHUP reloads,
SIGTERM or SIGINT stop after the batch in hand is recorded).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from outreach.app import App
from outreach.clock import WorkerClock, parse_now
from outreach.delivery.dispatch import Dispatcher
from outreach.delivery.parallel import StopFlag
from outreach.delivery.sends import all_sends
from outreach.errors import DeliveryError, OutreachError
from outreach.store import ledger
from outreach.store.audience import zones_in_use
from outreach.timeline import Send
from outreach.worker.agreement import Agreement, differs_message
from outreach.worker.health import write_heartbeat
from outreach.worker.reload import CampaignWatcher, describe
from outreach.worker.wiring import build_dispatcher

SWEEP_SECONDS = 60
WATCH_SECONDS = 5
HORIZON = timedelta(hours=48)
FIRE = "fire:"
JOB_DEFAULTS: dict[str, Any] = {
    "coalesce": True,  # one run for any number of missed run times
    "max_instances": 1,
    "misfire_grace_time": None,  # run however late: lateness is each reminder's `expires`
}
log = logging.getLogger("outreach.worker")


def fire_instants(
    sends: Iterable[Send], zones: Iterable[str], start: datetime, end: datetime
) -> set[tuple[str, str, datetime]]:
    """(campaign, send, UTC instant) for every send firing in one of `zones` in (start, end]."""
    zone_list = list(zones)
    return {
        (send.campaign.id, send.key, instant)
        for send in sends
        for instant in {send.fires_at(zone) for zone in zone_list}
        if start < instant <= end
    }


def fire_job_id(campaign: str, send: str, instant: datetime) -> str:
    """`fire:<campaign>:<reminder>:<utc iso>`."""
    return f"{FIRE}{campaign}:{send}:{instant.astimezone(UTC).isoformat()}"


class Worker:
    """Calls dispatch when sends fire, on every sweep, and after a reload; never two at once."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        watcher: CampaignWatcher,
        clock: WorkerClock,
        *,
        sweep_seconds: int = SWEEP_SECONDS,
        heartbeat: Path | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.watcher = watcher
        self.clock = clock
        self.sweep_seconds = sweep_seconds
        self.heartbeat = heartbeat
        self.agreement = Agreement()
        self.scheduler = BackgroundScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)
        self._dispatch_lock = threading.Lock()
        self._jobs_lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._dispatch_wanted = threading.Event()
        self._stopping = threading.Event()
        self._hangup = threading.Event()
        self._wake = threading.Event()
        self._planned: set[str] = set()

    # The jobs.

    def sweep(self) -> None:
        """Dispatch whatever is due, then plan the fire jobs of the next hours."""
        self.dispatch()
        self.refresh_fire_jobs()

    def watch(self) -> None:
        """Reload the campaign if its files changed; write the heartbeat (and whether the
        campaign differs from the leader's, as the last dispatch found)."""
        if self.reload():
            self._dispatch_soon()
        if self.heartbeat is not None:
            held = self.agreement.held_by
            differs = None if held is None else differs_message(held)
            write_heartbeat(self.heartbeat, datetime.now(UTC), campaign_differs=differs)

    def dispatch(self) -> None:
        """Send what is due now. If a dispatch is running, it runs once more when done."""
        self._dispatch_wanted.set()
        while self._dispatch_wanted.is_set() and not self._stopping.is_set():
            if not self._dispatch_lock.acquire(blocking=False):
                return  # the running dispatch sees the request when it finishes
            try:
                while self._dispatch_wanted.is_set() and not self._stopping.is_set():
                    self._dispatch_wanted.clear()
                    self.reload()  # an edit saved before this run applies to it
                    self._run_once()
            finally:
                self._dispatch_lock.release()

    def may_send(self) -> bool:
        """Whether this worker's campaign is the database's: the leading worker's (the
        leader publishes its own; see `worker/agreement.py`)."""
        return self.agreement.allows(self.dispatcher.engine, self.watcher.digest)

    def _run_once(self) -> None:
        try:
            if not self.may_send():
                return
            report = self.dispatcher.run_once(self.clock.now())
        except DeliveryError as exc:
            log.error("delivery trouble: %s (retried at the next sweep)", exc)
        except OutreachError as exc:
            log.error("%s", exc)
        except Exception:
            log.exception("dispatch failed (retried at the next sweep)")
        else:
            if report.sends:
                log.info("run sent=%d failed=%d", report.sent, report.failed)

    # Reloading and planning.

    def reload(self, *, force: bool = False) -> bool:
        """Swap in the edited campaign when its files changed and are valid."""
        with self._reload_lock:
            loaded = self.watcher.poll(force=force)
            if loaded is None:
                return False
            self.dispatcher.use_campaign(*loaded)
        log.info("reloaded %s", describe(loaded[0], self.watcher.settings.schedules))
        self.refresh_fire_jobs()
        return True

    def _dispatch_soon(self) -> None:
        """Dispatch now in a job thread (what a reload made due is sent without waiting)."""
        if self.scheduler.running and not self._stopping.is_set():
            self.scheduler.add_job(self.dispatch, id="after-reload", replace_existing=True)

    def refresh_fire_jobs(self) -> None:
        """One job per upcoming fire instant; jobs of moved or removed sends go."""
        with self._jobs_lock:  # the last to plan reads the latest campaign
            if self._stopping.is_set():
                return
            wanted = self._wanted_fire_jobs()
            if set(wanted) != self._planned:
                self._planned = set(wanted)
                soonest = min(wanted.values(), default=None)
                log.info(
                    "%d fire jobs in the next %d h%s",
                    len(wanted),
                    HORIZON // timedelta(hours=1),
                    f"; the next at {soonest:%Y-%m-%d %H:%M} UTC" if soonest else "",
                )
            real_now = datetime.now(UTC)
            for job in self.scheduler.get_jobs():
                due = not job.pending and job.next_run_time <= real_now
                if job.id.startswith(FIRE) and job.id not in wanted and not due:
                    with contextlib.suppress(JobLookupError):  # it has just run
                        job.remove()
            existing = {job.id for job in self.scheduler.get_jobs()}
            for job_id, instant in wanted.items():
                if job_id not in existing:
                    self.scheduler.add_job(
                        self.dispatch,
                        DateTrigger(run_date=self.clock.real(instant), timezone=UTC),
                        id=job_id,
                        replace_existing=True,
                    )

    def _wanted_fire_jobs(self) -> dict[str, datetime]:
        """Job id → instant, for every send firing within the horizon in a zone in use."""
        dispatcher = self.dispatcher
        schedule = dispatcher.schedule
        now = self.clock.now()
        with dispatcher.engine.connect() as conn:
            zones = {*zones_in_use(conn, schedule.timezone), schedule.timezone}
        sends = all_sends(schedule, dispatcher.engine)
        return {
            fire_job_id(campaign, key, instant): instant
            for campaign, key, instant in fire_instants(sends, zones, now, now + HORIZON)
        }

    # Running and stopping.

    def start(self) -> None:
        """Start the clock: the sweep now and every `sweep_seconds`, the watch every few."""
        real_now = datetime.now(UTC)
        self.scheduler.add_job(
            self.sweep,
            IntervalTrigger(seconds=self.sweep_seconds, timezone=UTC),
            id="sweep",
            replace_existing=True,
            next_run_time=real_now,
        )
        self.scheduler.add_job(
            self.watch,
            IntervalTrigger(seconds=min(WATCH_SECONDS, self.sweep_seconds), timezone=UTC),
            id="watch",
            replace_existing=True,
            next_run_time=real_now,
        )
        self.scheduler.start()

    def request_stop(self) -> None:
        """Finish the batch in hand and start no other (safe from a signal handler)."""
        self._stopping.set()
        self.dispatcher.stop()
        self._wake.set()

    def request_reload(self) -> None:
        """Reload the campaign files now (safe from a signal handler)."""
        self._hangup.set()
        self._wake.set()

    def stop(self) -> None:
        """Stop the clock and wait for the batch in hand to be recorded."""
        self.request_stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        with self._dispatch_lock:  # the batch in hand is finished and recorded
            pass
        self.dispatcher.email_transport.close()

    def run(self) -> None:
        """Start, then wait for signals: SIGHUP reloads; SIGTERM or SIGINT stops."""
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGHUP, self._on_hangup)
        self.start()
        log.info(
            "worker started (pid %d, clock %s UTC): sweeping every %d s",
            os.getpid(),
            f"{self.clock.now():%Y-%m-%d %H:%M:%S}",
            self.sweep_seconds,
        )
        while not self._stopping.is_set():
            self._wake.wait(timeout=1)
            self._wake.clear()
            if self._hangup.is_set():
                self._hangup.clear()
                log.info("SIGHUP: reloading")
                if self.reload(force=True):
                    self._dispatch_soon()
        log.info("stopping: finishing the batch in hand")
        self.stop()
        log.info("stopped")

    def _on_stop_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.request_stop()

    def _on_hangup(self, _signum: int, _frame: FrameType | None) -> None:
        self.request_reload()


def configure_logging() -> None:
    """One line per event on stderr (journald keeps it under systemd)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def build_worker(app: App, clock: WorkerClock, *, sweep_seconds: int = SWEEP_SECONDS) -> Worker:
    """A worker over the app's store and transports, with the campaign loaded and checked."""
    watcher = CampaignWatcher(app.settings)
    dispatcher = build_dispatcher(app, clock.now, campaign=watcher.load(), stop_flag=StopFlag())
    return Worker(
        dispatcher,
        watcher,
        clock,
        sweep_seconds=sweep_seconds,
        heartbeat=app.settings.heartbeat,
    )


def run_forever(
    app: App,
    *,
    sweep_seconds: int = SWEEP_SECONDS,
    start: str | None = None,
    resend_uncertain: bool = False,
) -> None:
    """Run the worker until SIGTERM or SIGINT; `start` (`--now`) sets its clock."""
    configure_logging()
    clock = WorkerClock.starting_at(parse_now(start, app.schedule.timezone) if start else None)
    worker = build_worker(app, clock, sweep_seconds=sweep_seconds)
    if resend_uncertain and worker.may_send():
        worker.dispatcher.resend_uncertain(clock.now())
    uncertain = ledger.uncertain_batches(app.engine)
    if uncertain:
        log.warning(
            "%d emails in %d batches are uncertain (claimed by a run that stopped before "
            "recording them); send them with `outreach run --once --resend-uncertain`",
            sum(len(b.supporter_ids) for b in uncertain),
            len(uncertain),
        )
    worker.run()
