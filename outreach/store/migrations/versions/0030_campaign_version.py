"""The database's campaign: one row, the digest of the files the leading worker runs.

Revision ID: 0030
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add `campaign_version`."""
    op.create_table(
        "campaign_version",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("worker", sa.String(32), nullable=False),
        sa.Column("published_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("id = 1", name="ck_campaign_version_one_row"),
    )


def downgrade() -> None:
    """Back to revision 0020."""
    op.drop_table("campaign_version")
