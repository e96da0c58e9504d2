"""The long-running worker: APScheduler as the clock, dispatch for everything else.

The scheduler holds no business rule: it only decides *when* to call dispatch. The
ledger guarantees that nothing is sent twice, however often or late it is called.
"""

from __future__ import annotations

import logging
import signal
from datetime import UTC, datetime
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from outreach.app import App

SWEEP_SECONDS = 60
log = logging.getLogger("outreach.worker")


def run_forever(app: App, sweep_seconds: int = SWEEP_SECONDS) -> None:
    """Sweep for due sends every `sweep_seconds` until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    dispatcher = app.dispatcher(clock=lambda: datetime.now(UTC))
    scheduler = BlockingScheduler(timezone=UTC)

    def sweep() -> None:
        report = dispatcher.run_once(datetime.now(UTC))
        for item in report.sends:
            log.info(
                "batch campaign=%s reminder=%s sent=%d failed=%d seconds=%.1f",
                item.campaign,
                item.reminder,
                item.sent,
                item.failed,
                item.seconds,
            )

    scheduler.add_job(
        sweep,
        IntervalTrigger(seconds=sweep_seconds),
        id="sweep",
        replace_existing=True,
        next_run_time=datetime.now(UTC),
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,  # lateness is each reminder's `expires`, not APScheduler's
    )

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: finishing the batch in hand", signal.Signals(signum).name)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker started: sweeping every %d s", sweep_seconds)
    scheduler.start()
