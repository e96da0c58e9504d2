"""One canonical address key (computed in Python) on supporters and suppressions, in place of
the `lower(email)` index; supporters the old rule let in twice are merged.

Revision ID: 0010
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

from outreach.supporters.addresses import KEY_LENGTH, address_key

revision = "0010"
down_revision = "0002"
branch_labels = None
depends_on = None

BATCH = 1000

_meta = sa.MetaData()
supporters = sa.Table(
    "supporters",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(320)),
    sa.Column("address_key", sa.String(KEY_LENGTH)),
    sa.Column("created_at", sa.DateTime),
)
suppressions = sa.Table(
    "suppressions",
    _meta,
    sa.Column("email", sa.String(320), primary_key=True),
    sa.Column("address_key", sa.String(KEY_LENGTH)),
    sa.Column("reason", sa.String(40)),
    sa.Column("detail", sa.Text),
    sa.Column("created_at", sa.DateTime),
)
ledger = sa.Table(
    "ledger",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("campaign", sa.String(100)),
    sa.Column("reminder", sa.String(100)),
    sa.Column("supporter_id", sa.Integer),
    sa.Column("channel", sa.String(20)),
)
events = sa.Table("events", _meta, sa.Column("supporter_id", sa.Integer))


def upgrade() -> None:
    """Add and fill the keys, merge duplicates, index the keys."""
    conn = op.get_bind()
    for table in ("supporters", "suppressions"):
        op.add_column(table, sa.Column("address_key", sa.String(KEY_LENGTH), nullable=True))
    _fill_keys(conn, supporters, supporters.c.id)
    _fill_keys(conn, suppressions, suppressions.c.email)
    _merge_supporters(conn)
    _merge_suppressions(conn)
    op.drop_index("uq_supporters_email", table_name="supporters")
    for table in ("supporters", "suppressions"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column("address_key", existing_type=sa.String(KEY_LENGTH), nullable=False)
        op.create_index(f"uq_{table}_address_key", table, ["address_key"], unique=True)


def _rows(conn: sa.Connection, table: sa.Table, order: sa.Column[Any]) -> Iterator[list[Any]]:
    """The table's rows in batches, by `order` (keyset pagination)."""
    after: Any = None
    while True:
        query = sa.select(order, table.c.email).order_by(order).limit(BATCH)
        if after is not None:
            query = query.where(order > after)
        rows = conn.execute(query).all()
        if not rows:
            return
        yield list(rows)
        after = rows[-1][0]


def _fill_keys(conn: sa.Connection, table: sa.Table, order: sa.Column[Any]) -> None:
    """Compute each row's key in Python, a batch at a time."""
    update = (
        table.update()
        .where(order == sa.bindparam("row_id"))
        .values(address_key=sa.bindparam("new_key"))
    )
    for rows in _rows(conn, table, order):
        conn.execute(
            update, [{"row_id": row[0], "new_key": address_key(str(row[1]))} for row in rows]
        )


def _duplicated_keys(conn: sa.Connection, table: sa.Table) -> list[str]:
    query = (
        sa.select(table.c.address_key)
        .group_by(table.c.address_key)
        .having(sa.func.count() > 1)
        .order_by(table.c.address_key)
    )
    return [str(key) for key in conn.execute(query).scalars()]


def _merge_supporters(conn: sa.Connection) -> None:
    """Keep the oldest supporter of each key; move the others' ledger rows and events to it
    (a send the oldest already has stays recorded once), then delete the others."""
    for key in _duplicated_keys(conn, supporters):
        ids = list(
            conn.execute(
                sa.select(supporters.c.id)
                .where(supporters.c.address_key == key)
                .order_by(supporters.c.created_at, supporters.c.id)
            ).scalars()
        )
        keeper, others = ids[0], ids[1:]
        for other in others:
            _move_ledger(conn, other, keeper)
            conn.execute(
                events.update().where(events.c.supporter_id == other).values(supporter_id=keeper)
            )
            conn.execute(supporters.delete().where(supporters.c.id == other))


def _move_ledger(conn: sa.Connection, other: int, keeper: int) -> None:
    """Give `keeper` the ledger rows of `other` whose key it has no row for; drop the rest."""
    mine = ledger.alias("mine")
    taken = (
        sa.select(mine.c.id)
        .where(
            mine.c.supporter_id == keeper,
            mine.c.campaign == ledger.c.campaign,
            mine.c.reminder == ledger.c.reminder,
            mine.c.channel == ledger.c.channel,
        )
        .exists()
    )
    conn.execute(ledger.delete().where(ledger.c.supporter_id == other, taken))
    conn.execute(ledger.update().where(ledger.c.supporter_id == other).values(supporter_id=keeper))


def _merge_suppressions(conn: sa.Connection) -> None:
    """One suppression per key: the oldest, its detail naming the others (none is lost)."""
    for key in _duplicated_keys(conn, suppressions):
        rows = conn.execute(
            sa.select(suppressions)
            .where(suppressions.c.address_key == key)
            .order_by(suppressions.c.created_at, suppressions.c.email)
        ).all()
        first, others = rows[0], rows[1:]
        also = "; ".join(f"also {row.reason} as {row.email}: {row.detail}" for row in others)
        detail = f"{first.detail}; {also}" if first.detail else also
        conn.execute(
            suppressions.update().where(suppressions.c.email == first.email).values(detail=detail)
        )
        conn.execute(
            suppressions.delete().where(suppressions.c.email.in_([row.email for row in others]))
        )


def downgrade() -> None:
    """Back to the `lower(email)` index (merged supporters stay merged)."""
    for table in ("supporters", "suppressions"):
        op.drop_index(f"uq_{table}_address_key", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("address_key")
    op.create_index("uq_supporters_email", "supporters", [sa.text("lower(email)")], unique=True)
