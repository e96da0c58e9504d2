"""What `plan` and `status` show: upcoming sends and per-reminder counts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from outreach.campaign.model import Schedule
from outreach.messages import Channel
from outreach.store import feedback, ledger
from outreach.store.audience import Selection, count_audience, count_due, zones_in_use
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


STATUS_COLUMNS = (
    "sent",
    "failed",
    "suppressed",
    "lapsed",
    "uncertain",
    "pending",
    "delivered",
    "bounces",
    "spam_reports",
)
"""The counts of `status`, in the order they are shown."""


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
    delivered: int = 0
    bounces: int = 0
    spam_reports: int = 0
    paused: str | None = None  # why the campaign is paused, when it is

    def as_json(self) -> dict[str, Any]:
        """A plain dict for `--json`."""
        return asdict(self)


def status(
    schedule: Schedule, engine: Engine, sends: Iterable[Send], now: datetime
) -> list[SendStatus]:
    """Per send: sent, failed, suppressed, lapsed, uncertain, still pending, and feedback."""
    counts = ledger.counts_by_reminder(engine)
    reported = feedback.event_counts(engine)
    paused = feedback.paused_campaigns(engine)
    rows = []
    with engine.connect() as conn:
        zones = zones_in_use(conn, schedule.timezone) or [schedule.timezone]
        for send in sends:
            states = counts.get((send.campaign.id, send.key, Channel.EMAIL), {})
            events = reported.get((send.campaign.id, send.key), {})
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
                    delivered=events.get(feedback.DELIVERED, 0),
                    bounces=events.get(feedback.BOUNCE, 0),
                    spam_reports=events.get(feedback.SPAM_REPORT, 0),
                    paused=paused.get(send.campaign.id),
                )
            )
    return rows


@dataclass(frozen=True)
class CampaignFeedback:
    """What the provider reported for one campaign, and whether it is paused."""

    campaign: str
    sent: int
    delivered: int
    bounces: int
    spam_reports: int
    paused: str | None

    @property
    def spam_rate(self) -> float:
        """Spam reports over delivered emails (over sent ones while none is reported)."""
        return feedback.spam_rate(self.spam_reports, self.delivered, self.sent)[0]


def campaign_feedback(rows: Iterable[SendStatus]) -> list[CampaignFeedback]:
    """Per-reminder counts summed per campaign, in order of first appearance."""
    totals: dict[str, CampaignFeedback] = {}
    for row in rows:
        known = totals.get(row.campaign)
        totals[row.campaign] = CampaignFeedback(
            campaign=row.campaign,
            sent=row.sent + (known.sent if known else 0),
            delivered=row.delivered + (known.delivered if known else 0),
            bounces=row.bounces + (known.bounces if known else 0),
            spam_reports=row.spam_reports + (known.spam_reports if known else 0),
            paused=row.paused,
        )
    return list(totals.values())
