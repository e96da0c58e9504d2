"""Worker leases (claims whose liveness is the database's word), CHECK constraints for
ledger states and consent, an index of the claims in flight.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATES = "state IN ('claimed', 'sent', 'failed')"
CONSENTS = "consent IN ('express', 'implied')"


def upgrade() -> None:
    """Add `workers`, the checks and the index."""
    op.create_table(
        "workers",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:  # batch mode copies the table, and cannot copy an expression index
        op.drop_index("uq_supporters_email", table_name="supporters")
    with op.batch_alter_table("supporters") as batch:
        batch.create_check_constraint("ck_supporters_consent", CONSENTS)
    if sqlite:
        op.create_index("uq_supporters_email", "supporters", [sa.text("lower(email)")], unique=True)
    with op.batch_alter_table("ledger") as batch:
        batch.create_check_constraint("ck_ledger_state", STATES)
    op.create_index(
        "ix_ledger_claimed",
        "ledger",
        ["owner"],
        postgresql_where=sa.text("state = 'claimed'"),
        sqlite_where=sa.text("state = 'claimed'"),
    )


def downgrade() -> None:
    """Back to revision 0001."""
    op.drop_index("ix_ledger_claimed", table_name="ledger")
    with op.batch_alter_table("ledger") as batch:
        batch.drop_constraint("ck_ledger_state", type_="check")
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.drop_index("uq_supporters_email", table_name="supporters")
    with op.batch_alter_table("supporters") as batch:
        batch.drop_constraint("ck_supporters_consent", type_="check")
    if sqlite:
        op.create_index("uq_supporters_email", "supporters", [sa.text("lower(email)")], unique=True)
    op.drop_table("workers")
