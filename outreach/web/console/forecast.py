"""Who gets a send, when, in each time zone, and who does not and why.

It asks the store with the rules dispatch uses (`store/audience.py`): the audience's tags
and regions, then its languages, then suppressions, then consent at the local day the send
fires in that zone (not today's date), then the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, and_, case, func, not_, select

from outreach.campaign.model import Audience, Schedule
from outreach.store.audience import (
    Selection,
    already_in_ledger,
    lapsed,
    suppressed,
    zones_in_use,
)
from outreach.store.schema import supporters
from outreach.timeline import Send

REASONS = ("outside", "no_language", "suppressed", "lapsed", "already")
"""Why a supporter does not get a send, in the order the rules are applied."""


@dataclass(frozen=True)
class ZoneForecast:
    """One time zone's share of a send."""

    zone: str
    local: datetime
    utc: datetime
    closed: bool  # the send's window has passed in this zone
    recipients: int
    outside: int
    no_language: int
    suppressed: int
    lapsed: int
    already: int


@dataclass(frozen=True)
class Forecast:
    """A send's forecast, zone by zone, soonest first."""

    zones: list[ZoneForecast]

    def total(self, name: str) -> int:
        """The sum of one column over every zone."""
        return sum(int(getattr(zone, name)) for zone in self.zones)


def _conditions(schedule: Schedule, send: Send, day: date) -> list[ColumnElement[bool]]:
    """Each rule as a condition, in `REASONS` order: true when it excludes."""
    audience = send.audience
    scope = Selection(Audience(audience.tags, (), audience.regions), schedule.languages, "")
    speaks = Selection(Audience((), audience.languages, ()), schedule.languages, "")
    return [
        not_(scope.matches()),
        not_(speaks.matches()),
        suppressed(),
        lapsed(scope, day),
        already_in_ledger(send.campaign.id, send.key),
    ]


def _first_reason(conditions: list[ColumnElement[bool]]) -> list[ColumnElement[int]]:
    """One 0/1 column per reason: 1 for the first rule that excludes a supporter."""
    columns: list[ColumnElement[int]] = []
    for index, condition in enumerate(conditions):
        earlier = [not_(c) for c in conditions[:index]]
        columns.append(case((and_(condition, *earlier), 1), else_=0))
    return columns


def forecast(conn: Connection, schedule: Schedule, send: Send, now: datetime) -> Forecast:
    """The forecast of `send`, seen at `now`."""
    zone_of = func.coalesce(supporters.c.timezone, schedule.timezone)
    zones = []
    for zone in zones_in_use(conn, schedule.timezone) or [schedule.timezone]:
        start, end = send.window(zone)
        columns = _first_reason(_conditions(schedule, send, send.local_date(zone)))
        sums = [func.coalesce(func.sum(column), 0) for column in columns]
        total, *excluded = conn.execute(select(func.count(), *sums).where(zone_of == zone)).one()
        counts = [int(n) for n in excluded]
        zones.append(
            ZoneForecast(
                zone=zone,
                local=start.astimezone(ZoneInfo(zone)),
                utc=start,
                closed=now >= end,
                recipients=int(total) - sum(counts),
                **dict(zip(REASONS, counts, strict=True)),
            )
        )
    return Forecast(sorted(zones, key=lambda z: (z.utc, z.zone)))


@dataclass(frozen=True)
class Verdict:
    """Whether one supporter gets one send: when (their local time), or why not."""

    send: Send
    local: datetime
    reason: str | None  # one of REASONS, None when they get it


def verdicts(
    conn: Connection, schedule: Schedule, supporter_id: int, sends: list[Send]
) -> list[Verdict]:
    """For each send, whether this supporter gets it."""
    zone = conn.execute(
        select(func.coalesce(supporters.c.timezone, schedule.timezone)).where(
            supporters.c.id == supporter_id
        )
    ).scalar_one()
    found = []
    for send in sends:
        conditions = _conditions(schedule, send, send.local_date(zone))
        query = select(*[case((c, 1), else_=0) for c in conditions]).where(
            supporters.c.id == supporter_id
        )
        flags = conn.execute(query).one()
        reason = next((r for r, flag in zip(REASONS, flags, strict=True) if flag), None)
        found.append(Verdict(send, send.fires_at(zone).astimezone(ZoneInfo(zone)), reason))
    return found


def upcoming_sends(sends: list[Send], zones: list[str], now: datetime) -> list[Send]:
    """The sends still open in at least one zone, soonest first."""
    zones = zones or ["UTC"]
    open_sends = [s for s in sends if any(now < s.window(z)[1] for z in zones)]
    return sorted(open_sends, key=lambda s: min(s.fires_at(z) for z in zones))
