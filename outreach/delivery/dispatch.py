"""Dispatch: due occurrences → claim in the ledger → render → transport → record.

The only module that orchestrates. It streams supporters in chunks (memory stays flat), sorts
them into batches of supporters who share a rendering (`compose.py`: one SendGrid request
carries a whole batch), claims each batch before handing it to a transport and records the
outcome after, so a second run, or a second worker, never sends anything twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from time import monotonic
from typing import Any

from sqlalchemy import Engine

from outreach.campaign.model import Schedule
from outreach.delivery.announce import announce
from outreach.delivery.compose import Composer, Group
from outreach.delivery.handover import HandOver
from outreach.delivery.heap import steady_heap
from outreach.delivery.parallel import (
    SHARDS_PER_PROCESS,
    Helpers,
    ShardCounter,
    StopFlag,
    shards_from_place,
)
from outreach.delivery.results import ProgressReporter, RunReport, SendReport, Silent
from outreach.delivery.sends import all_sends
from outreach.errors import DeliveryError
from outreach.messages import Channel, OutgoingEmail
from outreach.rendering.renderer import Renderer
from outreach.store import ledger
from outreach.store.audience import (
    Selection,
    Shard,
    count_due,
    rows_by_id,
    stream_due,
    zones_in_use,
)
from outreach.store.feedback import paused_campaigns
from outreach.timeline import Send, due_zones, zones_ahead
from outreach.tokens import TokenSigner
from outreach.transports.base import EmailTransport, PostTransport

log = logging.getLogger("outreach.delivery.dispatch")

EMAILS_PER_PROCESS = 1000
"""A send shares out across processes only when each gets at least this many emails."""

HelperParts = Callable[[], tuple[Engine, EmailTransport]]
"""Opens, in a helper process, its own database connections and email transport."""


class Dispatcher:
    """Sends everything due at a given instant, exactly once."""

    def __init__(
        self,
        *,
        engine: Engine,
        schedule: Schedule,
        renderer: Renderer,
        email_transport: EmailTransport,
        post_transport: PostTransport,
        signer: TokenSigner,
        public_url: str,
        chunk_size: int | None = None,
        progress: ProgressReporter | None = None,
        processes: int = 1,
        helper_parts: HelperParts | None = None,
        stop_flag: StopFlag | None = None,
    ) -> None:
        """`stop_flag` is the worker's, when a worker runs this dispatcher (else its own)."""
        self.engine = engine
        self.schedule = schedule
        self.renderer = renderer
        self.email_transport = email_transport
        self.post_transport = post_transport
        self.signer = signer
        self.public_url = public_url
        self.chunk_size = chunk_size or email_transport.batch_size
        self.processes = processes if helper_parts is not None else 1
        self.helper_parts = helper_parts
        self._stopping = stop_flag or StopFlag()
        self._helpers: Helpers | None = None
        self.progress = progress or Silent()
        self.composer = Composer(schedule, renderer, signer, public_url)

    def use_campaign(self, schedule: Schedule, renderer: Renderer) -> None:
        """Send the edited campaign from the next batch on (the worker's reload): the store,
        transports and stop flag stay as they are."""
        self.schedule = schedule
        self.renderer = renderer
        self.composer = Composer(schedule, renderer, self.signer, self.public_url)

    def _like(self, **changes: Any) -> Dispatcher:
        """A new dispatcher with this one's parts, but for `changes`."""
        parts: dict[str, Any] = {
            "engine": self.engine,
            "schedule": self.schedule,
            "renderer": self.renderer,
            "email_transport": self.email_transport,
            "post_transport": self.post_transport,
            "signer": self.signer,
            "public_url": self.public_url,
            "chunk_size": self.chunk_size,
            "progress": self.progress,
            "processes": self.processes,
            "helper_parts": self.helper_parts,
        }
        return Dispatcher(**{**parts, **changes})

    def stop(self) -> None:
        """Finish the batch in hand, then start no other (safe from a signal handler);
        helper processes of the send in hand, too."""
        self._stopping.set()
        helpers = self._helpers
        if helpers is not None:
            helpers.halt.set()

    @property
    def stopping(self) -> bool:
        """True once `stop` was called."""
        return self._stopping.is_set()

    def run_once(self, now: datetime, *, dry_run: bool = False) -> RunReport:
        """Send every occurrence due at `now` that is not yet in the ledger."""
        report = RunReport(now=now, dry_run=dry_run)
        with self.engine.connect() as conn:
            zones = zones_in_use(conn, self.schedule.timezone)
        paused = paused_campaigns(self.engine)
        for campaign, reason in paused.items():
            log.warning(
                "campaign %s is paused: %s; resume with `outreach campaign resume %s`",
                campaign,
                reason,
                campaign,
            )
        for send in all_sends(self.schedule, self.engine):
            if self.stopping:
                break
            if send.campaign.id in paused:
                continue
            send_report = SendReport(send.campaign.id, send.key)
            started = monotonic()
            if send.announce and send.is_due(self.schedule.timezone, now):
                try:
                    send_report.announced = announce(
                        self.engine,
                        self.schedule,
                        self.renderer,
                        self.post_transport,
                        send,
                        now,
                        dry_run,
                    )
                except DeliveryError as exc:  # X's trouble never holds back the email
                    send_report.announcement_trouble = str(exc)
                    log.error(
                        "announcement campaign=%s reminder=%s: %s", send.campaign.id, send.key, exc
                    )
            due = due_zones(send, zones, now)
            if due:
                self._send_emails(send, due, now, dry_run, send_report, now.date())
            ahead = zones_ahead(send, zones, now, self.email_transport.schedules_ahead)
            if ahead:  # handed over now, held by the provider until their time
                last = max(send.fires_at(zone) for zone in ahead)
                self._send_emails(send, ahead, now, dry_run, send_report, last.date())
            send_report.seconds = monotonic() - started
            if (
                send_report.sent
                or send_report.failed
                or send_report.announced
                or send_report.announcement_trouble
            ):
                report.sends.append(send_report)
        return report

    def resend_uncertain(self, now: datetime) -> RunReport:
        """Send again what a crashed run claimed but never recorded, when the organizer asks."""
        report = RunReport(now=now, dry_run=False)
        sends = {(s.campaign.id, s.key): s for s in all_sends(self.schedule, self.engine)}
        for uncertain in ledger.uncertain_batches(self.engine, channel=Channel.EMAIL):
            send = sends.get((uncertain.campaign, uncertain.reminder))
            if send is None:
                continue
            send_report = SendReport(send.campaign.id, send.key)
            started = monotonic()
            batch, taken = ledger.take_over(self.engine, uncertain.batch)
            if not taken:
                continue  # another resender has it
            rows = rows_by_id(self.engine, taken, self.schedule.timezone)
            emails = [self.compose(send, row) for row in rows]
            with HandOver(self.engine, self.email_transport, send, now, send_report) as hand_over:
                hand_over.give_claimed(batch, emails, len(rows))
            send_report.seconds = monotonic() - started
            report.sends.append(send_report)
        return report

    def _selection(self, send: Send, zones: Sequence[str]) -> Selection:
        return Selection(
            send.audience, self.schedule.languages, self.schedule.timezone, tuple(zones)
        )

    def _send_emails(
        self,
        send: Send,
        zones: Sequence[str],
        now: datetime,
        dry_run: bool,
        report: SendReport,
        today: date,
    ) -> None:
        """Send to the supporters of `zones`: those whose consent holds on `today` (the
        send's day, the last one's if it is handed over ahead of its time)."""
        selection = self._selection(send, zones)
        with self.engine.connect() as conn:
            total = count_due(conn, selection, send.campaign.id, send.key, today)
        if not total:
            return
        self.progress.start(f"{send.campaign.id} / {send.key}", total)
        with steady_heap():
            if dry_run:
                self._compose_only(send, selection, today, report)
                return
            helpers = min(self.processes, total // EMAILS_PER_PROCESS) - 1
            if helpers < 1:
                chunks = self._due_in_shards(
                    send, selection, today, shards_from_place(self.engine, SHARDS_PER_PROCESS)
                )
                self._deliver(send, chunks, now, report)
            else:
                self._deliver_with_helpers(send, selection, now, today, report, helpers)

    def _compose_only(
        self, send: Send, selection: Selection, today: date, report: SendReport
    ) -> None:
        """A dry run: every email composed (so that what would fail fails now), none sent."""
        for rows in self._due(send, selection, today):
            if self.stopping:
                return
            for row in rows:
                self.compose(send, row)
            report.sent += len(rows)
            self.progress.advance(len(rows))

    def _deliver_with_helpers(
        self,
        send: Send,
        selection: Selection,
        now: datetime,
        today: date,
        report: SendReport,
        helpers: int,
    ) -> None:
        """Send in this process and `helpers` forked ones, shard by shard (`parallel.py`)."""
        counter = ShardCounter(shards_from_place(self.engine, (helpers + 1) * SHARDS_PER_PROCESS))
        self.composer.renderer.prepare(send, self.schedule.languages)
        pool = Helpers(
            helpers,
            lambda progress, halt: self._help(send, selection, now, today, counter, progress, halt),
        )
        self._helpers = pool
        try:
            try:
                chunks = self._due_in_shards(send, selection, today, counter)
                self._deliver(send, chunks, now, report, lambda: pool.relay(self.progress))
            except BaseException:
                pool.abandon(self.progress)
                raise
            pool.finish(self.progress, report)
        finally:
            self._helpers = None

    def _due(
        self, send: Send, selection: Selection, today: date, shard: Shard | None = None
    ) -> Iterator[list[dict[str, object]]]:
        """The supporters still due for `send` (in `shard`, if given), in chunks."""
        return stream_due(
            self.engine, selection, send.campaign.id, send.key, today, self.chunk_size, shard
        )

    def _due_in_shards(
        self, send: Send, selection: Selection, today: date, taken: Iterable[Shard]
    ) -> Iterator[list[dict[str, object]]]:
        """The due supporters of every shard this process takes, as one stream (so that a
        batch left part-full at the end of a shard fills up in the next)."""
        for shard in taken:
            yield from self._due(send, selection, today, shard)

    def _deliver(
        self,
        send: Send,
        chunks: Iterable[Sequence[Mapping[str, Any]]],
        now: datetime,
        report: SendReport,
        after_batch: Callable[[], None] | None = None,
    ) -> None:
        """Send to the supporters of `chunks`, batch by batch, until done or stopped: each
        batch composed while the one before is with the transport."""

        def done(rows: int) -> None:
            self.progress.advance(rows)
            if after_batch is not None:
                after_batch()

        hand_over = HandOver(
            self.engine, self.email_transport, send, now, report, done, lambda: self.stopping
        )
        with hand_over:
            for group, rows in self._batches(send, chunks):
                if self.stopping:
                    return
                hand_over.give([self.composer.compose(send, row, group) for row in rows], len(rows))

    def _help(
        self,
        send: Send,
        selection: Selection,
        now: datetime,
        today: date,
        counter: ShardCounter,
        progress: ProgressReporter,
        halt: StopFlag,
    ) -> SendReport:
        """(In a helper process) send shards with connections of its own until none is left
        or `halt` is set."""
        assert self.helper_parts is not None
        engine, transport = self.helper_parts()
        helper = self._like(
            engine=engine, email_transport=transport, progress=progress, helper_parts=None
        )
        helper._stopping = halt
        report = SendReport(send.campaign.id, send.key)
        try:
            chunks = helper._due_in_shards(send, selection, today, counter)
            helper._deliver(send, chunks, now, report)
        finally:
            transport.close()
        return report

    def _batches(
        self, send: Send, chunks: Iterable[Sequence[Mapping[str, Any]]]
    ) -> Iterator[tuple[Group, list[Mapping[str, Any]]]]:
        """The streamed rows in batches of supporters who share a rendering, full ones first."""
        pending: dict[Group, list[Mapping[str, Any]]] = {}
        for rows in chunks:
            for row in rows:
                group = self.composer.group(send, row)
                batch = pending.setdefault(group, [])
                batch.append(row)
                if len(batch) == self.chunk_size:
                    yield group, pending.pop(group)
        yield from pending.items()

    def compose(self, send: Send, row: Mapping[str, Any]) -> OutgoingEmail:
        """The email one supporter gets for one send."""
        return self.composer.compose(send, row)
