"""The schema as release 0.1.0 made it with `metadata.create_all`: revision 0001, frozen.

Never edit these tables: a later schema change is a new revision. The adoption of a
database from before migrations (`store/versions.py`) compares against them.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)


def baseline_metadata() -> MetaData:
    """The tables of revision 0001, as `create_all` made them in release 0.1.0."""
    metadata = MetaData()
    supporters = Table(
        "supporters",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("email", String(320), nullable=False),
        Column("first_name", String(200), nullable=False),
        Column("last_name", String(200), nullable=False),
        Column("city", String(200), nullable=False),
        Column("region", String(20), nullable=False),
        Column("postal_code", String(20), nullable=False),
        Column("country", String(100), nullable=False),
        Column("language", String(10), nullable=False),
        Column("timezone", String(64), nullable=True),
        Column("tags", Text, nullable=False),
        Column("consent", String(10), nullable=False),
        Column("consent_date", Date, nullable=True),
        Column("consent_source", String(200), nullable=False),
        Column("fields", Text, nullable=False),
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime, nullable=False),
    )
    Index("ix_supporters_timezone", supporters.c.timezone)
    Index("uq_supporters_email", func.lower(supporters.c.email), unique=True)
    Table(
        "suppressions",
        metadata,
        Column("email", String(320), primary_key=True),
        Column("reason", String(40), nullable=False),
        Column("detail", Text, nullable=False),
        Column("created_at", DateTime, nullable=False),
    )
    ledger = Table(
        "ledger",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("campaign", String(100), nullable=False),
        Column("reminder", String(100), nullable=False),
        Column("supporter_id", Integer, nullable=False),
        Column("channel", String(20), nullable=False),
        Column("state", String(20), nullable=False),
        Column("batch", String(40), nullable=False),
        Column("owner", String(300), nullable=False),
        Column("claimed_at", DateTime, nullable=False),
        Column("done_at", DateTime, nullable=True),
        Column("detail", Text, nullable=False),
        UniqueConstraint("campaign", "reminder", "supporter_id", "channel", name="uq_ledger_key"),
    )
    Index("ix_ledger_batch", ledger.c.batch)
    Index("ix_ledger_state", ledger.c.campaign, ledger.c.reminder, ledger.c.state)
    Table(
        "queue",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("campaign", String(100), nullable=False),
        Column("template", String(100), nullable=False),
        Column("milestone", String(100), nullable=True),
        Column("at", String(40), nullable=False),
        Column("targets", Text, nullable=False),
        Column("tags", Text, nullable=False),
        Column("languages", Text, nullable=False),
        Column("regions", Text, nullable=False),
        Column("expires_seconds", Integer, nullable=False),
        Column("state", String(20), nullable=False),
        Column("created_at", DateTime, nullable=False),
    )
    Table(
        "settings",
        metadata,
        Column("key", String(100), primary_key=True),
        Column("value", Text, nullable=False),
    )
    events = Table(
        "events",
        metadata,
        Column("event_id", String(200), primary_key=True),
        Column("kind", String(40), nullable=False),
        Column("campaign", String(100), nullable=False),
        Column("reminder", String(100), nullable=False),
        Column("supporter_id", Integer, nullable=True),
        Column("email", String(320), nullable=False),
        Column("detail", Text, nullable=False),
        Column("occurred_at", DateTime, nullable=False),
        Column("received_at", DateTime, nullable=False),
    )
    Index("ix_events_campaign", events.c.campaign, events.c.kind, events.c.reminder)
    Table(
        "pauses",
        metadata,
        Column("campaign", String(100), primary_key=True),
        Column("reason", Text, nullable=False),
        Column("created_at", DateTime, nullable=False),
    )
    return metadata
