"""Open batches instead of an index on the ledger's state; a half-full ledger on PostgreSQL.

`ix_ledger_claimed` (the owners of claimed rows) read `state`, so recording a batch wrote
each row anew, with a new entry in every index. The batches not yet recorded and their
owners now have a table of their own, one row a batch; with no index on `state` and half
of each page left free, PostgreSQL rewrites a recorded row in place (a HOT update).

Revision ID: 0050
Revises: 0040
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0050"
down_revision = "0040"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add `open_batches`, filled from the claims in the ledger; drop `ix_ledger_claimed`."""
    op.create_table(
        "open_batches",
        sa.Column("batch", sa.String(40), primary_key=True),
        sa.Column("owner", sa.String(300), nullable=False),
    )
    op.create_index("ix_open_batches_owner", "open_batches", ["owner"])
    op.execute(
        "INSERT INTO open_batches (batch, owner) SELECT batch, MIN(owner) FROM ledger "
        "WHERE state = 'claimed' GROUP BY batch"
    )
    op.drop_index("ix_ledger_claimed", table_name="ledger")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE ledger SET (fillfactor = 50)")


def downgrade() -> None:
    """Back to revision 0040."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE ledger RESET (fillfactor)")
    claimed = sa.text("state = 'claimed'")
    op.create_index(
        "ix_ledger_claimed",
        "ledger",
        ["owner"],
        postgresql_where=claimed,
        sqlite_where=claimed,
    )
    op.drop_table("open_batches")
