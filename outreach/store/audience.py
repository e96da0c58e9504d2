"""Who may be emailed for a send: audience, consent, suppressions and the ledger, as SQL.

Every rule that excludes a supporter lives here once, so `plan`, `status` and dispatch
count and select the same people.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    case,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
)

from outreach.campaign.model import Audience
from outreach.messages import Channel
from outreach.store.consent import lapsed_sql
from outreach.store.schema import ledger, supporters, suppressions
from outreach.supporters.consent import lapse_cutoff

_PROFILE = (
    supporters.c.id,
    supporters.c.email,
    supporters.c.first_name,
    supporters.c.last_name,
    supporters.c.city,
    supporters.c.region,
    supporters.c.language,
    supporters.c.timezone,
    supporters.c.fields,
)
"""The columns an email is composed from (`people.supporter_from_row`)."""


@dataclass(frozen=True)
class Selection:
    """The supporters one send is for, before consent, suppressions and the ledger."""

    audience: Audience
    languages: tuple[str, ...]
    default_timezone: str
    zones: tuple[str, ...] | None = None  # None: every zone

    def zone_column(self) -> ColumnElement[str]:
        """Each supporter's effective time zone."""
        return func.coalesce(supporters.c.timezone, self.default_timezone)

    def matches(self) -> ColumnElement[bool]:
        """Audience (tags, languages, regions) and time zones."""
        conditions: list[ColumnElement[bool]] = []
        if self.zones is not None:
            conditions.append(self.zone_column().in_(self.zones) if self.zones else false())
        if self.audience.tags:
            conditions.append(or_(*(has_tag(tag) for tag in self.audience.tags)))
        if self.audience.languages:
            conditions.append(_language_in(self.audience.languages, self.languages))
        if self.audience.regions:
            conditions.append(supporters.c.region.in_(self.audience.regions))
        return and_(true(), *conditions)


def has_tag(tag: str) -> ColumnElement[bool]:
    """Supporters with exactly this tag (any letter case); `%` and `_` are literal."""
    folded = tag.strip().lower()
    if not folded or ";" in folded:  # no stored tag is blank or holds the separator
        return false()
    return supporters.c.tags.contains(f";{folded};", autoescape=True)


def _language_in(wanted: Sequence[str], languages: Sequence[str]) -> ColumnElement[bool]:
    """Supporters whose effective language (theirs, else the first) is one of `wanted`."""
    condition: ColumnElement[bool] = supporters.c.language.in_(wanted)
    if languages[0] in wanted:
        condition = or_(condition, supporters.c.language.not_in(languages))
    return condition


def lapsed(selection: Selection, on: date | Mapping[str, date]) -> ColumnElement[bool]:
    """Consent lapsed on `on`: one day, or each zone's own day (an occurrence's send date,
    by the supporter's effective zone). The rule itself is `consent.py`'s."""
    if isinstance(on, date):
        return lapsed_sql(lapse_cutoff(on))
    cutoffs = {zone: lapse_cutoff(day) for zone, day in on.items()}
    earliest = min(cutoffs.values(), default=date.min)
    return lapsed_sql(case(cutoffs, value=selection.zone_column(), else_=earliest))


def suppressed() -> ColumnElement[bool]:
    """Unsubscribed, bounced, reported spam or suppressed by hand."""
    return exists().where(suppressions.c.address_key == supporters.c.address_key)


def already_in_ledger(
    campaign: str, reminder: str, channel: str = Channel.EMAIL, *, per_row: bool = False
) -> ColumnElement[bool]:
    """Already claimed, sent or failed for this send.

    `per_row`: looked up in the ledger's index for each supporter, for a chunk of a few
    supporters. PostgreSQL would otherwise join the whole of the send's ledger into the
    chunk (its statistics are from before the send, when the ledger was empty): the cost
    of a chunk would grow with the ledger. `OFFSET 0` is what keeps it from making the
    subquery a join (it never changes what EXISTS finds)."""
    condition = select(ledger.c.id).where(
        ledger.c.campaign == campaign,
        ledger.c.reminder == reminder,
        ledger.c.channel == channel,
        ledger.c.supporter_id == supporters.c.id,
    )
    return (condition.offset(0) if per_row else condition).exists()


def reachable(selection: Selection, on: date | Mapping[str, date]) -> ColumnElement[bool]:
    """Neither suppressed nor lapsed on `on` (see `lapsed`)."""
    return and_(not_(suppressed()), not_(lapsed(selection, on)))


def stream_due(
    engine: Engine,
    selection: Selection,
    campaign: str,
    reminder: str,
    today: date,
    chunk_size: int,
    shard: Shard | None = None,
) -> Iterator[list[dict[str, object]]]:
    """Chunks of supporters still to be sent this reminder, by id (keyset pagination).

    Each chunk is read in its own short transaction, so nothing stays open while the
    chunk is being sent and memory stays flat however many supporters there are; nor does
    a chunk's cost grow with the ledger (`already_in_ledger`'s `per_row`). Rows
    hold what an email is composed from, and the effective time zone (`zone`). With a
    `shard`, only the supporters whose id falls in it.
    """
    after = 0 if shard is None else shard.first - 1
    in_shard = true() if shard is None else shard.holds()
    while True:
        query = (
            select(*_PROFILE, selection.zone_column().label("zone"))
            .where(
                supporters.c.id > after,
                in_shard,
                selection.matches(),
                reachable(selection, today),
                not_(already_in_ledger(campaign, reminder, per_row=True)),
            )
            .order_by(supporters.c.id)
            .limit(chunk_size)
        )
        with engine.connect() as conn:
            result = conn.execute(query)
            names = tuple(result.keys())
            rows = [dict(zip(names, row, strict=True)) for row in result]
        if not rows:
            return
        yield rows
        after = int(str(rows[-1]["id"]))


@dataclass(frozen=True)
class Shard:
    """A slice of the supporters by id: `first` to `last` (None: every later id). A range,
    so that each chunk of a shard is one index range scan, not a scan of every shard's ids."""

    first: int
    last: int | None

    def holds(self) -> ColumnElement[bool]:
        """The condition on supporters that this shard's hold."""
        if self.last is None:
            return supporters.c.id >= self.first
        return supporters.c.id.between(self.first, self.last)


def shards(conn: Connection, count: int) -> list[Shard]:
    """`count` shards of about the same span of ids, covering every supporter (and those
    imported meanwhile, in the last)."""
    low, high = conn.execute(select(func.min(supporters.c.id), func.max(supporters.c.id))).one()
    return shard_ranges(int(low or 0), int(high or 0), count)


def shard_ranges(low: int, high: int, count: int) -> list[Shard]:
    """`count` shards of ids from `low` to `high` (and after, in the last), spans alike."""
    step = max(1, -(-(high - low + 1) // count))
    return [
        Shard(low + step * n, None if n == count - 1 else low + step * (n + 1) - 1)
        for n in range(count)
    ]


@dataclass(frozen=True)
class AudienceCounts:
    """How an audience splits: who can be emailed and why the others cannot."""

    reachable: int
    suppressed: int
    lapsed: int


def count_audience(
    conn: Connection,
    selection: Selection,
    on: date | Mapping[str, date],
    unsent: tuple[str, str] | None = None,
) -> AudienceCounts:
    """Reachable, suppressed and lapsed (on `on`, see `lapsed`) members of an audience;
    with `unsent` (campaign, reminder), only those not in that reminder's email ledger."""
    is_suppressed = suppressed()
    is_lapsed = and_(lapsed(selection, on), not_(is_suppressed))
    query = select(
        func.count(),
        func.coalesce(func.sum(_as_int(is_suppressed)), 0),
        func.coalesce(func.sum(_as_int(is_lapsed)), 0),
    ).where(selection.matches())
    if unsent is not None:
        query = query.where(not_(already_in_ledger(*unsent)))
    total, n_suppressed, n_lapsed = conn.execute(query).one()
    return AudienceCounts(
        reachable=int(total) - int(n_suppressed) - int(n_lapsed),
        suppressed=int(n_suppressed),
        lapsed=int(n_lapsed),
    )


def _as_int(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def zones_in_use(conn: Connection, default_timezone: str) -> list[str]:
    """The distinct effective time zones of all supporters."""
    zone = func.coalesce(supporters.c.timezone, default_timezone)
    return [str(z) for z in conn.execute(select(zone).distinct()).scalars()]


def count_due(
    conn: Connection, selection: Selection, campaign: str, reminder: str, today: date
) -> int:
    """How many supporters `stream_due` would yield."""
    query = select(func.count()).where(
        selection.matches(),
        reachable(selection, today),
        not_(already_in_ledger(campaign, reminder)),
    )
    return int(conn.execute(query).scalar_one())


def rows_by_id(
    engine: Engine, ids: Sequence[int], default_timezone: str
) -> list[dict[str, object]]:
    """These supporters' rows, with their effective zone, still reachable or not."""
    zone = func.coalesce(supporters.c.timezone, default_timezone).label("zone")
    with engine.connect() as conn:
        query = select(*_PROFILE, zone).where(supporters.c.id.in_(ids)).order_by(supporters.c.id)
        return [dict(row._mapping) for row in conn.execute(query)]
