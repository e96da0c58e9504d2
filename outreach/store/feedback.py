"""What supporters and the email provider tell us: unsubscribes, bounces, spam reports.

Each provider event is stored once under its id, in the same transaction as its effects,
so a replayed webhook changes nothing. When a campaign's spam reports pass 0.1% (by default,
OUTREACH_SPAM_PAUSE_RATE) of its delivered emails (of its sent emails while no delivery was
reported), it is paused until an organizer resumes it; the guard looks again at each new
spam report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, and_, func, or_, select, update

from outreach.config import SPAM_PAUSE_RATE
from outreach.messages import Channel
from outreach.store.dialects import conflict_insert
from outreach.store.ledger import SENT, confirm
from outreach.store.people import suppress, suppression
from outreach.store.schema import events, ledger, pauses, supporters, suppressions

DELIVERED = "delivered"
DEFERRED = "deferred"
BOUNCE = "bounce"
SPAM_REPORT = "spamreport"
KINDS = frozenset(
    {DELIVERED, DEFERRED, BOUNCE, "dropped", SPAM_REPORT, "unsubscribe", "group_unsubscribe"}
)
"""The provider events outreach acts on; any other kind is ignored."""


DETAIL_LIMIT = 2000


@dataclass(frozen=True)
class ProviderEvent:
    """One thing the provider reports about one email, mapped back to its occurrence."""

    event_id: str
    kind: str
    email: str
    occurred_at: datetime
    campaign: str = ""
    reminder: str = ""
    supporter_id: int | None = None
    channel: str = Channel.EMAIL
    reason: str = ""
    suppress: bool = False  # never email this address again


@dataclass
class FeedbackReport:
    """What applying a batch of events did."""

    applied: int = 0
    duplicates: int = 0
    suppressed: int = 0
    paused: dict[str, str] = field(default_factory=dict)


def _insert_new(conn: Connection, table: Table, **values: Any) -> bool:
    """Insert a row unless its key exists; True when it was new.

    RETURNING tells (SQLAlchemy keeps no INSERT's row count unless asked).
    """
    insert = conflict_insert(conn.dialect.name, table).on_conflict_do_nothing()
    key = table.primary_key.columns.values()[0]
    return conn.execute(insert.values(**values).returning(key)).first() is not None


def apply_events(
    engine: Engine,
    provider_events: Iterable[ProviderEvent],
    now: datetime,
    pause_rate: float = SPAM_PAUSE_RATE,
) -> FeedbackReport:
    """Store and apply each event not seen before, in one transaction; pause a campaign whose
    spam reports pass `pause_rate`."""
    report = FeedbackReport()
    reported_spam: set[str] = set()
    with engine.begin() as conn:
        for event in provider_events:
            if not _store(conn, event, now):
                report.duplicates += 1
                continue
            report.applied += 1
            if event.suppress and event.email and _suppress(conn, event, now):
                report.suppressed += 1
            _note_in_ledger(conn, event)
            if event.kind == SPAM_REPORT and event.campaign:
                reported_spam.add(event.campaign)
        for campaign in sorted(reported_spam):
            reason = spam_pause_reason(*_spam_figures(conn, campaign), pause_rate)
            if reason and _pause(conn, campaign, reason, now):
                report.paused[campaign] = reason
    return report


def _store(conn: Connection, event: ProviderEvent, now: datetime) -> bool:
    """Keep the event under its id; False when it was seen before."""
    return _insert_new(
        conn,
        events,
        event_id=event.event_id,
        kind=event.kind,
        campaign=event.campaign,
        reminder=event.reminder,
        supporter_id=event.supporter_id,
        email=event.email,
        detail=event.reason[:DETAIL_LIMIT],
        occurred_at=event.occurred_at,
        received_at=now,
    )


def _suppress(conn: Connection, event: ProviderEvent, now: datetime) -> bool:
    detail = f"{event.reason} ({_occurrence(event)})" if event.reason else _occurrence(event)
    return _insert_new(
        conn, suppressions, **suppression(event.email, event.kind, detail[:DETAIL_LIMIT], now)
    )


def _occurrence(event: ProviderEvent) -> str:
    if not event.campaign:
        return "reported by the email provider"
    return f"campaign {event.campaign}, reminder {event.reminder or '?'}"


def _note_in_ledger(conn: Connection, event: ProviderEvent) -> None:
    """Delivery news goes in the ledger's detail; the state stays `sent`.

    Any provider event proves the provider accepted the email, so an occurrence still
    `claimed` (its run stopped before recording it) becomes `sent`.
    """
    if event.supporter_id is None or not event.campaign or not event.reminder:
        return
    key = and_(
        ledger.c.campaign == event.campaign,
        ledger.c.reminder == event.reminder,
        ledger.c.supporter_id == event.supporter_id,
        ledger.c.channel == event.channel,
    )
    confirm(conn, key, event.occurred_at)
    note = f"{event.kind}: {event.reason}" if event.reason else event.kind
    query = update(ledger).where(key, ledger.c.state == SENT)
    if event.kind == DEFERRED:  # a delay never hides a later outcome
        query = query.where(or_(ledger.c.detail == "", ledger.c.detail.startswith(DEFERRED)))
    conn.execute(query.values(detail=note[:DETAIL_LIMIT]))


def _spam_figures(conn: Connection, campaign: str) -> tuple[int, int, int]:
    """Spam reports, delivered emails and sent emails of a campaign."""
    by_kind: dict[str, int] = {
        kind: int(count)
        for kind, count in conn.execute(
            select(events.c.kind, func.count())
            .where(events.c.campaign == campaign, events.c.kind.in_((SPAM_REPORT, DELIVERED)))
            .group_by(events.c.kind)
        )
    }
    sent = conn.execute(
        select(func.count()).where(
            ledger.c.campaign == campaign, ledger.c.channel == Channel.EMAIL, ledger.c.state == SENT
        )
    ).scalar_one()
    return by_kind.get(SPAM_REPORT, 0), by_kind.get(DELIVERED, 0), int(sent)


def spam_rate(spam: int, delivered: int, sent: int) -> tuple[float, int, str]:
    """Spam reports over delivered emails (over sent ones while no delivery was reported).

    Returns the rate, its base and the base's name. Reports about emails we never saw sent
    still count: the base is never below the number of reports.
    """
    base, label = (delivered, "delivered") if delivered else (sent, "sent")
    base = max(base, spam)
    return (spam / base if base else 0.0), base, label


def spam_pause_reason(
    spam: int, delivered: int, sent: int, pause_rate: float = SPAM_PAUSE_RATE
) -> str | None:
    """Why a campaign must pause, or None while its spam reports stay at or below the rate."""
    rate, base, label = spam_rate(spam, delivered, sent)
    if rate <= pause_rate:
        return None
    return f"spam reports at {rate:.2%} of {label} ({spam} of {base})"


def _pause(conn: Connection, campaign: str, reason: str, now: datetime) -> bool:
    return _insert_new(conn, pauses, campaign=campaign, reason=reason, created_at=now)


def pause(engine: Engine, campaign: str, reason: str, now: datetime) -> bool:
    """Pause a campaign; False when it was paused already."""
    with engine.begin() as conn:
        return _pause(conn, campaign, reason, now)


def resume(engine: Engine, campaign: str) -> bool:
    """Let a paused campaign send again; False when it was not paused."""
    with engine.begin() as conn:
        return conn.execute(pauses.delete().where(pauses.c.campaign == campaign)).rowcount > 0


def paused_campaigns(engine: Engine) -> dict[str, str]:
    """Paused campaign → why."""
    with engine.connect() as conn:
        return {
            str(campaign): str(reason)
            for campaign, reason in conn.execute(select(pauses.c.campaign, pauses.c.reason))
        }


def event_counts(engine: Engine) -> dict[tuple[str, str], dict[str, int]]:
    """(campaign, reminder) → {event kind: count}."""
    query = select(events.c.campaign, events.c.reminder, events.c.kind, func.count()).group_by(
        events.c.campaign, events.c.reminder, events.c.kind
    )
    result: dict[tuple[str, str], dict[str, int]] = {}
    with engine.connect() as conn:
        for campaign, reminder, kind, count in conn.execute(query):
            result.setdefault((campaign, reminder), {})[kind] = int(count)
    return result


@dataclass(frozen=True)
class Recipient:
    """The supporter an unsubscribe link names."""

    supporter_id: int
    email: str
    language: str
    suppressed: bool


def recipient(engine: Engine, supporter_id: int) -> Recipient | None:
    """The supporter with this id and whether they are suppressed, if they exist."""
    query = (
        select(supporters.c.email, supporters.c.language, suppressions.c.reason)
        .select_from(
            supporters.outerjoin(
                suppressions, suppressions.c.address_key == supporters.c.address_key
            )
        )
        .where(supporters.c.id == supporter_id)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    return Recipient(supporter_id, str(row.email), str(row.language), row.reason is not None)


def unsubscribe(
    engine: Engine, supporter_id: int, campaign: str, now: datetime
) -> Recipient | None:
    """Suppress the supporter an unsubscribe link names, at once; None if they are gone."""
    found = recipient(engine, supporter_id)
    if found is None:
        return None
    suppress(engine, found.email, "unsubscribe", f"unsubscribe link, campaign {campaign}", now)
    return Recipient(supporter_id, found.email, found.language, True)
