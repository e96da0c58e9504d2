"""The ledger without its (campaign, reminder, state) index.

Its prefix is the unique key's, so it served no query better; and when the planner's
statistics are older than a send (an empty ledger), it could pick it to look a supporter
up in the ledger, reading every row of the send for each supporter. Without it, every
such look-up goes by the unique key, and every claim writes one index fewer.

Revision ID: 0040
Revises: 0030
"""

from __future__ import annotations

from alembic import op

revision = "0040"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Drop `ix_ledger_state`."""
    op.drop_index("ix_ledger_state", table_name="ledger")


def downgrade() -> None:
    """Back to revision 0030."""
    op.create_index("ix_ledger_state", "ledger", ["campaign", "reminder", "state"])
