"""The schema of release 0.1.0 (what `metadata.create_all` made before migrations).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from outreach.store.migrations.baseline import baseline_metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables of release 0.1.0."""
    baseline_metadata().create_all(op.get_bind())


def downgrade() -> None:
    """Drop them all."""
    baseline_metadata().drop_all(op.get_bind())
