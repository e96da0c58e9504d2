"""The organizer's queue of ad-hoc reminders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update

from outreach.store.schema import queue

PENDING = "pending"
CANCELLED = "cancelled"


@dataclass(frozen=True)
class QueuedReminder:
    """One ad-hoc reminder as stored."""

    id: int
    campaign: str
    template: str
    milestone: str | None
    at: datetime  # naive: each supporter's local time; aware: one instant
    targets: tuple[str, ...]
    tags: tuple[str, ...]
    languages: tuple[str, ...]
    regions: tuple[str, ...]
    expires: timedelta
    state: str
    created_at: datetime


def _split(value: str) -> tuple[str, ...]:
    return tuple(v for v in value.split(",") if v)


def add(
    engine: Engine,
    *,
    campaign: str,
    template: str,
    milestone: str | None,
    at: datetime,
    targets: Sequence[str],
    tags: Sequence[str],
    languages: Sequence[str],
    regions: Sequence[str],
    expires: timedelta,
    now: datetime,
) -> int:
    """Store a queued reminder; returns its id."""
    with engine.begin() as conn:
        result = conn.execute(
            queue.insert().values(
                campaign=campaign,
                template=template,
                milestone=milestone,
                at=at.isoformat(),
                targets=",".join(targets),
                tags=",".join(tags),
                languages=",".join(languages),
                regions=",".join(regions),
                expires_seconds=int(expires.total_seconds()),
                state=PENDING,
                created_at=now,
            )
        )
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])


def listing(engine: Engine, states: Sequence[str] = (PENDING, CANCELLED)) -> list[QueuedReminder]:
    """Queued reminders in these states, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(select(queue).where(queue.c.state.in_(states)).order_by(queue.c.id))
        return [
            QueuedReminder(
                id=row.id,
                campaign=row.campaign,
                template=row.template,
                milestone=row.milestone,
                at=datetime.fromisoformat(row.at),
                targets=_split(row.targets),
                tags=_split(row.tags),
                languages=_split(row.languages),
                regions=_split(row.regions),
                expires=timedelta(seconds=row.expires_seconds),
                state=row.state,
                created_at=row.created_at,
            )
            for row in rows
        ]


def cancel(engine: Engine, queued_id: int) -> bool:
    """Cancel a pending queued reminder; False when there is no such pending one."""
    with engine.begin() as conn:
        result = conn.execute(
            update(queue)
            .where(queue.c.id == queued_id, queue.c.state == PENDING)
            .values(state=CANCELLED)
        )
        return result.rowcount == 1
