"""What `plan` and `status` show: upcoming sends and per-reminder counts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from outreach.model import Schedule
from outreach.store import ledger
from outreach.store.audience import EMAIL, Selection, count_audience, count_due, zones_in_use
from outreach.timeline import Send, upcoming


@dataclass(frozen=True)
class PlannedSend:
    """One upcoming send: when it fires, locally and in UTC, and for how many people."""

    campaign: str
    reminder: str
    template: str
    local_time: str
    first_fire: datetime
    last_expiry: datetime
    audience: int
    suppressed: int
    lapsed: int


def _local_label(send: Send, zone: str) -> str:
    fires = send.fires_at(zone).astimezone(ZoneInfo(zone))
    if send.queued_at is not None and send.queued_at.tzinfo is not None:
        return fires.strftime("%Y-%m-%d %H:%M %Z")
    return fires.strftime("%Y-%m-%d %H:%M local")


def plan(
    schedule: Schedule, engine: Engine, sends: Iterable[Send], start: datetime, end: datetime
) -> list[PlannedSend]:
    """Sends whose window overlaps [start, end), soonest first."""
    with engine.connect() as conn:
        zones = zones_in_use(conn, schedule.timezone) or [schedule.timezone]
        planned = []
        for send, first, last in upcoming(sends, zones, start, end):
            selection = Selection(send.audience, schedule.languages, schedule.timezone)
            counts = count_audience(conn, selection, start.date())
            planned.append(
                PlannedSend(
                    campaign=send.campaign.id,
                    reminder=send.key,
                    template=send.template,
                    local_time=_local_label(send, schedule.timezone),
                    first_fire=first,
                    last_expiry=last,
                    audience=counts.reachable,
                    suppressed=counts.suppressed,
                    lapsed=counts.lapsed,
                )
            )
    return sorted(planned, key=lambda p: (p.first_fire, p.campaign, p.reminder))


@dataclass(frozen=True)
class SendStatus:
    """Counts for one send: the keys of `status --json`."""

    campaign: str
    reminder: str
    sent: int
    failed: int
    suppressed: int
    lapsed: int
    uncertain: int
    pending: int

    def as_json(self) -> dict[str, Any]:
        """A plain dict for `--json`."""
        return asdict(self)


def status(
    schedule: Schedule, engine: Engine, sends: Iterable[Send], now: datetime
) -> list[SendStatus]:
    """Per send: sent, failed, suppressed, lapsed, uncertain and still pending."""
    counts = ledger.counts_by_reminder(engine)
    rows = []
    with engine.connect() as conn:
        zones = zones_in_use(conn, schedule.timezone) or [schedule.timezone]
        for send in sends:
            states = counts.get((send.campaign.id, send.key, EMAIL), {})
            selection = Selection(send.audience, schedule.languages, schedule.timezone)
            audience = count_audience(conn, selection, now.date())
            open_zones = tuple(z for z in zones if now < send.window(z)[1])
            pending = 0
            if open_zones:
                pending_selection = Selection(
                    send.audience, schedule.languages, schedule.timezone, open_zones
                )
                pending = count_due(conn, pending_selection, send.campaign.id, send.key, now.date())
            rows.append(
                SendStatus(
                    campaign=send.campaign.id,
                    reminder=send.key,
                    sent=states.get(ledger.SENT, 0),
                    failed=states.get(ledger.FAILED, 0),
                    suppressed=audience.suppressed,
                    lapsed=audience.lapsed,
                    uncertain=states.get(ledger.CLAIMED, 0),
                    pending=pending,
                )
            )
    return rows
