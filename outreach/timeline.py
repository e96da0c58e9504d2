"""When each send fires: reminders and queued reminders, at each supporter's local time.

Pure: no I/O. A *send* is one reminder (or one queued reminder) of one campaign; it fires
once per time zone, at the local wall-clock time the organizer wrote, and stays due until
it expires.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from outreach.campaign.model import Audience, Campaign, Milestone, Reminder, Schedule


@dataclass(frozen=True)
class Send:
    """One reminder or queued reminder, with the rule that says when it fires."""

    campaign: Campaign
    key: str  # the reminder id, or "queued-<id>" for a queued reminder
    template: str
    targets: tuple[str, ...]
    audience: Audience
    expires: timedelta
    announce: bool
    milestone: Milestone | None
    reminder: Reminder | None = None
    queued_at: datetime | None = None  # queued: naive = local wall-clock, aware = one instant

    def fires_at(self, zone: str) -> datetime:
        """The UTC instant this send fires for supporters living in `zone`."""
        tz = ZoneInfo(zone)
        if self.reminder is not None and self.milestone is not None:
            local = reminder_local_time(self.reminder, self.milestone, tz)
        else:
            assert self.queued_at is not None
            if self.queued_at.tzinfo is not None:
                return self.queued_at.astimezone(UTC)
            local = self.queued_at
        return local.replace(tzinfo=tz).astimezone(UTC)

    def window(self, zone: str) -> tuple[datetime, datetime]:
        """[fires, expires) in UTC for `zone`: still sent while late, never after."""
        start = self.fires_at(zone)
        return start, start + self.expires

    def is_due(self, zone: str, now: datetime) -> bool:
        """Due in `zone` at `now`."""
        start, end = self.window(zone)
        return start <= now < end

    def local_date(self, zone: str) -> date:
        """The supporter-local calendar day this send fires on."""
        return self.fires_at(zone).astimezone(ZoneInfo(zone)).date()


def reminder_local_time(reminder: Reminder, milestone: Milestone, tz: ZoneInfo) -> datetime:
    """The naive local wall-clock time of a reminder in a zone (DST-correct)."""
    when = milestone.when
    if isinstance(when, datetime):
        base = when.astimezone(tz).replace(tzinfo=None)
    else:
        base = datetime.combine(when, time())
    shifted = base + reminder.offset
    if reminder.at is not None:
        shifted = datetime.combine(shifted.date(), reminder.at)
    return shifted


def reminder_sends(schedule: Schedule) -> Iterator[Send]:
    """Every reminder of every campaign, as a send."""
    for campaign in schedule.campaigns.values():
        for reminder in campaign.reminders.values():
            yield Send(
                campaign=campaign,
                key=reminder.id,
                template=reminder.template,
                targets=reminder.targets or tuple(campaign.targets),
                audience=reminder.audience,
                expires=reminder.expires,
                announce=reminder.announce,
                milestone=campaign.milestones[reminder.milestone],
                reminder=reminder,
            )


def next_milestone(campaign: Campaign, day: date) -> Milestone | None:
    """The campaign's first milestone on or after `day`, else its last one."""
    ordered = sorted(campaign.milestones.values(), key=lambda m: m.day)
    return next((m for m in ordered if m.day >= day), ordered[-1] if ordered else None)


def due_zones(send: Send, zones: Iterable[str], now: datetime) -> tuple[str, ...]:
    """The zones in which `send` is due at `now`."""
    return tuple(sorted(z for z in zones if send.is_due(z, now)))


def zones_ahead(
    send: Send, zones: Iterable[str], now: datetime, horizon: timedelta
) -> tuple[str, ...]:
    """The zones in which `send` fires after `now` but within `horizon` of it."""
    return tuple(sorted(z for z in zones if now < send.fires_at(z) <= now + horizon))


def upcoming(
    sends: Iterable[Send], zones: Iterable[str], start: datetime, end: datetime
) -> Iterator[tuple[Send, datetime, datetime]]:
    """Sends whose window overlaps [start, end): (send, first fire, last expiry) in UTC."""
    zone_list = list(zones)
    for send in sends:
        windows = [send.window(z) for z in zone_list]
        if not windows:
            continue
        first = min(w[0] for w in windows)
        last = max(w[1] for w in windows)
        if first < end and last > start:
            yield send, first, last


def queued_send(
    campaign: Campaign,
    queued_id: int,
    template: str,
    milestone: Milestone | None,
    at: datetime,
    targets: tuple[str, ...],
    audience: Audience,
    expires: timedelta,
) -> Send:
    """An organizer's ad-hoc reminder, as a send."""
    return Send(
        campaign=campaign,
        key=f"queued-{queued_id}",
        template=template,
        targets=targets or tuple(campaign.targets),
        audience=audience,
        expires=expires,
        announce=False,
        milestone=milestone,
        queued_at=at,
    )
