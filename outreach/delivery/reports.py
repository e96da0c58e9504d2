"""What `plan` and `status` show: upcoming sends and per-reminder counts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from outreach.campaign.model import Schedule
from outreach.messages import SENDING, Channel
from outreach.store import feedback, ledger
from outreach.store.audience import Selection, count_audience, zones_in_use
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
            counts = count_audience(conn, selection, _send_dates(send, zones))
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


def _send_dates(send: Send, zones: Iterable[str]) -> dict[str, date]:
    """Each zone's occurrence date (UTC, as dispatch checks consent): lapsed on that day."""
    return {zone: send.fires_at(zone).date() for zone in zones}


OCCURRENCE_COLUMNS = ("sent", "failed", "suppressed", "lapsed", "uncertain", "sending", "pending")
"""Where each supporter of a reminder's audience stands: each is in exactly one."""
STATUS_COLUMNS = (*OCCURRENCE_COLUMNS, "delivered", "bounces", "spam_reports")
"""The counts of `status`, in the order they are shown."""


@dataclass(frozen=True)
class SendStatus:
    """Counts for one send: the keys of `status --json`. Every member of the audience is in
    exactly one of sent, failed, suppressed, lapsed, uncertain, sending and pending."""

    campaign: str
    reminder: str
    sent: int
    failed: int
    suppressed: int
    lapsed: int
    uncertain: int
    sending: int
    pending: int
    audience: int
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
    """Per send, everyone in its audience once: in the ledger, as sent, failed, uncertain
    (its worker's lease expired) or sending (a live worker has it); else suppressed, lapsed
    (on the occurrence's send date, in their zone) or pending (not sent: still due, or due
    later; one whose window passed is counted here too, since nobody sent it)."""
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
            unsent = count_audience(
                conn, selection, _send_dates(send, zones), unsent=(send.campaign.id, send.key)
            )
            rows.append(
                SendStatus(
                    campaign=send.campaign.id,
                    reminder=send.key,
                    sent=states.get(ledger.SENT, 0),
                    failed=states.get(ledger.FAILED, 0),
                    suppressed=unsent.suppressed,
                    lapsed=unsent.lapsed,
                    uncertain=states.get(ledger.CLAIMED, 0),
                    sending=states.get(SENDING, 0),
                    pending=unsent.reachable,
                    audience=sum(states.values())
                    + unsent.reachable
                    + unsent.suppressed
                    + unsent.lapsed,
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
