"""The ledger: every occurrence claimed before it is sent and recorded after.

The unique key (campaign, reminder, supporter, channel) makes each send idempotent: two
runs, or two workers, can only ever claim an occurrence once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Insert,
    and_,
    any_,
    bindparam,
    case,
    exists,
    func,
    literal,
    not_,
    select,
    true,
    update,
)

from outreach.messages import SENDING, Channel, Outcome, State
from outreach.store.dialects import conflict_insert, integer_array
from outreach.store.owner import database_now, ensure_held, leads, lease_for, owner_alive
from outreach.store.schema import ledger, open_batches, supporters

CLAIMED, SENT, FAILED = State.CLAIMED.value, State.SENT.value, State.FAILED.value


def new_batch_id() -> str:
    """A fresh, unique batch id."""
    return uuid.uuid4().hex


def _json_ids(ids: Sequence[int]) -> str:
    return json.dumps([int(i) for i in ids])


def _claim_from_json(values: dict[str, object]) -> Insert:
    """SQLite: claim the occurrences of the `ids` parameter (a JSON array), with `values`:
    one statement with one parameter, rather than a row of nine parameters per supporter."""
    ids = func.json_each(bindparam("ids")).table_valued("value")
    columns = [*values, "supporter_id"]
    source = select(*(literal(v, ledger.c[k].type) for k, v in values.items()), ids.c.value)
    # `WHERE true` keeps SQLite from reading ON CONFLICT as the join's ON.
    insert = conflict_insert("sqlite", ledger)
    return insert.from_select(columns, source.where(true())).on_conflict_do_nothing()


def _claim_from_array(values: dict[str, object]) -> Insert:
    """PostgreSQL: claim the occurrences of the `ids` array parameter, with `values`.

    For emails, each supporter's row is locked `FOR UPDATE SKIP LOCKED` first: a supporter
    another worker is claiming at this moment is skipped, not waited for, so workers on any
    number of hosts divide the audience instead of queueing behind each other's claims.
    (The organization's own posts have no supporter row: the unique key alone decides.)
    """
    wanted = bindparam("ids", type_=integer_array())
    ids: ColumnElement[int]
    if values["channel"] == Channel.EMAIL:
        free = (
            select(supporters.c.id)
            .where(supporters.c.id == any_(wanted))
            .with_for_update(skip_locked=True)
            .subquery("free")
        )
        ids = free.c.id
    else:
        ids = func.unnest(wanted).column_valued()
    columns = [*values, "supporter_id"]
    source = select(*(literal(v, ledger.c[k].type) for k, v in values.items()), ids)
    insert = conflict_insert("postgresql", ledger)
    return insert.from_select(columns, source).on_conflict_do_nothing()


def _among(ids: Sequence[int], engine: Engine) -> ColumnElement[bool]:
    """`supporter_id IN ids`, as one parameter (an array on PostgreSQL, JSON on SQLite)."""
    if engine.dialect.name == "postgresql":
        return ledger.c.supporter_id == any_(bindparam(None, list(ids), type_=integer_array()))
    listed = func.json_each(bindparam(None, _json_ids(ids))).table_valued("value")
    return ledger.c.supporter_id.in_(select(listed.c.value))


def claim(
    engine: Engine,
    campaign: str,
    reminder: str,
    channel: str,
    supporter_ids: Sequence[int],
    now: datetime,
) -> tuple[str, set[int]]:
    """Claim these occurrences; returns the batch id and the ids this batch won.

    Ids already in the ledger (sent, failed, or claimed by another worker) are not won.
    The claims are this process's lease's (`owner.py`).
    """
    batch = new_batch_id()
    if not supporter_ids:
        return batch, set()
    lease = lease_for(engine)
    lease.ensure_held()
    values = {
        "campaign": campaign,
        "reminder": reminder,
        "channel": channel,
        "state": CLAIMED,
        "batch": batch,
        "owner": lease.id,
        "claimed_at": now,
        "detail": "",
    }
    with engine.begin() as conn:
        ids: dict[str, object]
        if engine.dialect.name == "postgresql":  # one array parameter: much quicker
            claiming, ids = _claim_from_array(values), {"ids": list(supporter_ids)}
        else:
            claiming, ids = _claim_from_json(values), {"ids": _json_ids(supporter_ids)}
        # SQLAlchemy 2.1 keeps an INSERT's row count only when asked (psycopg's is lost).
        claiming = claiming.execution_options(preserve_rowcount=True)
        if conn.execute(claiming, ids).rowcount == len(supporter_ids):
            won = set(supporter_ids)  # the usual case: no need to read them back
        else:
            taken = select(ledger.c.supporter_id).where(ledger.c.batch == batch)
            won = set(conn.execute(taken).scalars())
        if won:
            conn.execute(open_batches.insert().values(batch=batch, owner=lease.id))
    return batch, won


def _close(conn: Connection, batches: Iterable[str]) -> None:
    """Forget the open batches among `batches` that have no claim left."""
    claimed = exists().where(ledger.c.batch == open_batches.c.batch, ledger.c.state == CLAIMED)
    conn.execute(open_batches.delete().where(open_batches.c.batch.in_(batches), ~claimed))


def hold_lease(engine: Engine) -> None:
    """Before a claimed batch goes to a transport: `DeliveryError` unless the lease it was
    claimed under is still safely held."""
    ensure_held(engine)


def leads_announcements(engine: Engine) -> bool:
    """Whether this worker is the one that posts announcements (the oldest live worker):
    one leader per database, whatever the campaign files of each host say."""
    return leads(engine)


def is_in_ledger(
    engine: Engine, campaign: str, reminder: str, channel: str, supporter_id: int
) -> bool:
    """Whether this occurrence was already claimed, sent or failed."""
    query = select(ledger.c.id).where(
        ledger.c.campaign == campaign,
        ledger.c.reminder == reminder,
        ledger.c.channel == channel,
        ledger.c.supporter_id == supporter_id,
    )
    with engine.connect() as conn:
        return conn.execute(query).first() is not None


def record(engine: Engine, batch: str, outcomes: Iterable[Outcome], now: datetime) -> None:
    """Record what the transport said of each claimed occurrence of a batch."""
    sent = [o.supporter_id for o in outcomes if o.ok]
    failed = [o for o in outcomes if not o.ok]
    with engine.begin() as conn:
        if sent:
            conn.execute(
                update(ledger)
                .where(ledger.c.batch == batch, _among(sent, engine))
                .values(state=SENT, done_at=now)
            )
        for outcome in failed:
            conn.execute(
                update(ledger)
                .where(ledger.c.batch == batch, ledger.c.supporter_id == outcome.supporter_id)
                .values(state=FAILED, done_at=now, detail=outcome.detail[:2000])
            )
        _close(conn, [batch])


def confirm(conn: Connection, occurrence: ColumnElement[bool], at: datetime) -> None:
    """The provider accepted the `occurrence`: still claimed (its run stopped before
    recording it), it is `sent`."""
    batches = conn.execute(
        update(ledger)
        .where(occurrence, ledger.c.state == CLAIMED)
        .values(state=SENT, done_at=at)
        .returning(ledger.c.batch)
    ).scalars()
    _close(conn, set(batches))


def release(engine: Engine, batch: str) -> None:
    """Forget a batch's claims that were never handed to a transport."""
    with engine.begin() as conn:
        conn.execute(ledger.delete().where(ledger.c.batch == batch, ledger.c.state == CLAIMED))
        _close(conn, [batch])


@dataclass(frozen=True)
class UncertainBatch:
    """Claimed but never recorded: the process died between claim and record."""

    batch: str
    campaign: str
    reminder: str
    channel: str
    supporter_ids: tuple[int, ...]


def uncertain_batches(engine: Engine, channel: str | None = None) -> list[UncertainBatch]:
    """Every batch still claimed by a worker whose lease expired (not merely still sending)."""
    columns = (ledger.c.batch, ledger.c.campaign, ledger.c.reminder, ledger.c.channel)
    groups: dict[tuple[str, str, str, str], list[int]] = {}
    with engine.connect() as conn:
        query = select(*columns, ledger.c.supporter_id).where(
            ledger.c.batch.in_(select(open_batches.c.batch)),
            ledger.c.state == CLAIMED,
            not_(owner_alive(database_now(conn))),
        )
        if channel is not None:
            query = query.where(ledger.c.channel == channel)
        for batch, campaign, reminder, chan, sid in conn.execute(query.order_by(ledger.c.id)):
            groups.setdefault((batch, campaign, reminder, chan), []).append(int(sid))
    return [UncertainBatch(*key, tuple(ids)) for key, ids in groups.items()]


def take_over(engine: Engine, old_batch: str) -> tuple[str, list[int]]:
    """Move an uncertain batch's claims to a new batch of this process's lease; the new
    batch and the supporters it took (none when another resender, or a live owner, has it)."""
    batch = new_batch_id()
    lease = lease_for(engine)
    lease.ensure_held()
    with engine.begin() as conn:
        conn.execute(
            update(ledger)
            .where(
                ledger.c.batch == old_batch,
                ledger.c.state == CLAIMED,
                not_(owner_alive(database_now(conn))),
            )
            .values(batch=batch, owner=lease.id)
        )
        taken = conn.execute(
            select(ledger.c.supporter_id).where(ledger.c.batch == batch).order_by(ledger.c.id)
        ).scalars()
        supporter_ids = [int(sid) for sid in taken]
        if supporter_ids:
            conn.execute(open_batches.insert().values(batch=batch, owner=lease.id))
        _close(conn, [old_batch])
        return batch, supporter_ids


def counts_by_reminder(engine: Engine) -> dict[tuple[str, str, str], dict[str, int]]:
    """(campaign, reminder, channel) → {state: count}; claims of live workers count as
    `sending`, the others (their worker's lease expired) stay `claimed`: uncertain."""
    columns = (ledger.c.campaign, ledger.c.reminder, ledger.c.channel)
    result: dict[tuple[str, str, str], dict[str, int]] = {}
    with engine.connect() as conn:
        live = owner_alive(database_now(conn))
        state = case((and_(ledger.c.state == CLAIMED, live), SENDING), else_=ledger.c.state)
        rows = select(*columns, state.label("shown")).subquery()
        grouped = (rows.c.campaign, rows.c.reminder, rows.c.channel, rows.c.shown)
        query = select(*grouped, func.count()).group_by(*grouped)
        for campaign, reminder, channel, shown, count in conn.execute(query):
            result.setdefault((campaign, reminder, channel), {})[str(shown)] = int(count)
    return result
