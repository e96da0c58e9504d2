"""Batches handed to the email transport one at a time, the next composed meanwhile.

A transport spends most of a batch waiting on the network (SMTP replies, a SendGrid
response). `HandOver` sends each batch from a thread of its own, so the dispatcher composes
the next batch while the transport waits. At most one batch is with the transport at a time,
and its outcome is recorded, in the dispatcher's thread, before the next is claimed and
handed over: the ledger, the report and the log see the batches in order, as if sent one
after the other, and a process never holds more than one claimed, unrecorded batch (a
killed worker leaves exactly the batch the transport had as uncertain).

Delivery semantics are those of a batch sent in place:

- a batch is claimed in the ledger just before it goes to the transport (emails of
  supporters another worker claimed first are dropped), and goes only while the lease it
  was claimed under is held;
- outcomes are recorded as soon as the transport gives them (`PartialDelivery`: those it
  gave, the rest released); a batch the transport took none of is released;
- a batch handed over is always waited for and recorded, even when the dispatcher stops or
  fails while composing the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from time import monotonic
from types import TracebackType

from sqlalchemy import Engine

from outreach.delivery.results import SendReport
from outreach.errors import DeliveryError
from outreach.messages import Channel, Outcome, OutgoingEmail
from outreach.store import ledger
from outreach.timeline import Send
from outreach.transports.base import EmailTransport, PartialDelivery

log = logging.getLogger("outreach.delivery.dispatch")  # batch lines keep their logger's name


@dataclass
class _InFlight:
    batch: str
    emails: Sequence[OutgoingEmail]
    rows: int
    started: float
    outcomes: Future[list[Outcome]]


class HandOver(AbstractContextManager["HandOver"]):
    """Sends claimed batches for one send, one at a time, recording each (a context manager:
    leaving it waits for the batch in flight)."""

    def __init__(
        self,
        engine: Engine,
        transport: EmailTransport,
        send: Send,
        now: datetime,
        report: SendReport,
        recorded: Callable[[int], None] = lambda rows: None,
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        """`recorded(rows)` is called once a batch made of `rows` supporters is done with;
        once `stopping()`, batches given are no longer claimed nor handed over."""
        self._engine = engine
        self._stopping = stopping
        self._send = send
        self._transport = transport
        self._now = now
        self._report = report
        self._recorded = recorded
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="hand-over")
        self._in_flight: _InFlight | None = None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            self.finish()
        finally:
            self._pool.shutdown(wait=False)

    def give(self, emails: Sequence[OutgoingEmail], rows: int) -> None:
        """Claim `emails` and hand those won over, once the batch before is recorded (unless
        the dispatcher is stopping by then)."""
        self.finish()
        if self._stopping():
            return
        send = self._send
        ids = [email.supporter_id for email in emails]
        batch, won = ledger.claim(
            self._engine, send.campaign.id, send.key, Channel.EMAIL, ids, self._now
        )
        if not won:
            self._recorded(rows)
            return
        self._start(batch, [email for email in emails if email.supporter_id in won], rows)

    def give_claimed(self, batch: str, emails: Sequence[OutgoingEmail], rows: int) -> None:
        """Hand the claimed `batch` over, once the batch before is recorded."""
        try:
            self.finish()
        except BaseException:
            ledger.release(self._engine, batch)  # never handed over: nothing is uncertain
            raise
        self._start(batch, emails, rows)

    def _start(self, batch: str, emails: Sequence[OutgoingEmail], rows: int) -> None:
        """Give the claimed `batch` to the transport's thread, if its lease is still held."""
        try:
            ledger.hold_lease(self._engine)
        except BaseException:
            ledger.release(self._engine, batch)  # never handed over: nothing is uncertain
            raise
        outcomes = self._pool.submit(self._transport.send, emails)
        self._in_flight = _InFlight(batch, emails, rows, monotonic(), outcomes)

    def finish(self) -> None:
        """Wait for the batch in flight, if any, and record its outcome."""
        flight, self._in_flight = self._in_flight, None
        if flight is None:
            return
        try:
            outcomes = flight.outcomes.result()
        except PartialDelivery as exc:
            ledger.record(self._engine, flight.batch, exc.outcomes, self._now)
            ledger.release(self._engine, flight.batch)  # the rest never was accepted
            raise
        except DeliveryError:
            ledger.release(self._engine, flight.batch)  # the transport accepted none of it
            raise
        ledger.record(self._engine, flight.batch, outcomes, self._now)
        self._count(flight, outcomes)
        self._recorded(flight.rows)

    def _count(self, flight: _InFlight, outcomes: Sequence[Outcome]) -> None:
        """Add a recorded batch to the report and the log."""
        report, now = self._report, self._now
        sent = sum(1 for outcome in outcomes if outcome.ok)
        report.sent += sent
        held = {e.supporter_id for e in flight.emails if e.send_at is not None and e.send_at > now}
        report.scheduled += sum(1 for o in outcomes if o.ok and o.supporter_id in held)
        report.failed += len(outcomes) - sent
        report.failures.extend(
            f"supporter {o.supporter_id}: {o.detail}" for o in outcomes if not o.ok
        )
        log.info(
            "batch campaign=%s reminder=%s transport=%s sent=%d failed=%d seconds=%.2f",
            report.campaign,
            report.reminder,
            self._transport.name,
            sent,
            len(outcomes) - sent,
            monotonic() - flight.started,
        )
