"""Table definitions: the head of the migrations (`store/migrations/`), made at once in a
fresh database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    Date,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    text,
)

from outreach.supporters.addresses import KEY_LENGTH
from outreach.supporters.csvfile import LIMITS


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, naive UTC in the database (portable across dialects)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


metadata = MetaData()

supporters = Table(
    "supporters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(LIMITS["email"]), nullable=False),  # as first imported
    Column("address_key", String(KEY_LENGTH), nullable=False),  # supporters/addresses.py
    Column("first_name", String(LIMITS["first_name"]), nullable=False, default=""),
    Column("last_name", String(LIMITS["last_name"]), nullable=False, default=""),
    Column("city", String(LIMITS["city"]), nullable=False, default=""),
    Column("region", String(LIMITS["region"]), nullable=False, default=""),
    Column("postal_code", String(LIMITS["postal_code"]), nullable=False, default=""),
    Column("country", String(LIMITS["country"]), nullable=False, default=""),
    Column("language", String(LIMITS["language"]), nullable=False, default=""),
    Column("timezone", String(LIMITS["timezone"]), nullable=True),
    # Tags are stored lower-cased as ';a;b;' so that one tag matches ';a;' (LIKE, escaped).
    Column("tags", Text, nullable=False, default=""),
    Column("consent", String(10), nullable=False, default="express"),
    Column("consent_date", Date, nullable=True),
    Column("consent_source", String(LIMITS["consent_source"]), nullable=False, default=""),
    Column("fields", Text, nullable=False, default="{}"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("consent IN ('express', 'implied')", name="ck_supporters_consent"),
)
Index("ix_supporters_timezone", supporters.c.timezone)
# One supporter per mailbox, however its address is spelled (never SQL lower()).
Index("uq_supporters_address_key", supporters.c.address_key, unique=True)

suppressions = Table(
    "suppressions",
    metadata,
    Column("email", String(320), primary_key=True),  # as given
    Column("address_key", String(KEY_LENGTH), nullable=False),
    Column("reason", String(40), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("uq_suppressions_address_key", suppressions.c.address_key, unique=True)

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
    Column("owner", String(300), nullable=False, default=""),  # workers.id, store/owner.py
    Column("claimed_at", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime, nullable=True),
    Column("detail", Text, nullable=False, default=""),
    UniqueConstraint("campaign", "reminder", "supporter_id", "channel", name="uq_ledger_key"),
    CheckConstraint("state IN ('claimed', 'sent', 'failed')", name="ck_ledger_state"),
)
Index("ix_ledger_batch", ledger.c.batch)
# No index reads `state`, and PostgreSQL leaves half of each page free: recording a batch
# then rewrites each row in place, on its page, without a new entry in every index (HOT).
LEDGER_FILLFACTOR = 50


@event.listens_for(ledger, "after_create")
def _half_full_pages(_table: Table, conn: Connection, **_: Any) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"ALTER TABLE ledger SET (fillfactor = {LEDGER_FILLFACTOR})"))


# The batches whose claims are not all recorded yet, and their owners: how a dead worker's
# claims are found without an index on the ledger's state.
open_batches = Table(
    "open_batches",
    metadata,
    Column("batch", String(40), primary_key=True),
    Column("owner", String(300), nullable=False),  # workers.id
)
Index("ix_open_batches_owner", open_batches.c.owner)

# Running workers: a claim is in flight while its owner's lease has not expired (owner.py).
workers = Table(
    "workers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("host", String(255), nullable=False),  # for people reading the table
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),  # by the database's clock
)

# The database's campaign: the digest of the files the leading worker runs (campaign_version.py).
campaign_version = Table(
    "campaign_version",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("digest", String(64), nullable=False),  # SHA-256, hex
    Column("host", String(255), nullable=False),
    Column("worker", String(32), nullable=False),  # workers.id of the leader that published it
    Column("published_at", UTCDateTime, nullable=False),  # by the database's clock
    CheckConstraint("id = 1", name="ck_campaign_version_one_row"),
)

queue = Table(
    "queue",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign", String(100), nullable=False),
    Column("template", String(100), nullable=False),
    Column("milestone", String(100), nullable=True),
    # ISO 8601: naive means each supporter's local time, with an offset one instant for all.
    Column("at", String(40), nullable=False),
    Column("targets", Text, nullable=False, default=""),
    Column("tags", Text, nullable=False, default=""),
    Column("languages", Text, nullable=False, default=""),
    Column("regions", Text, nullable=False, default=""),
    Column("expires_seconds", Integer, nullable=False),
    Column("state", String(20), nullable=False, default="pending"),
    Column("created_at", UTCDateTime, nullable=False),
)

settings = Table(
    "settings",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

# What the email provider told us, once per provider event id (replays change nothing).
events = Table(
    "events",
    metadata,
    Column("event_id", String(200), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("campaign", String(100), nullable=False, default=""),
    Column("reminder", String(100), nullable=False, default=""),
    Column("supporter_id", Integer, nullable=True),
    Column("email", String(320), nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
)
Index("ix_events_campaign", events.c.campaign, events.c.kind, events.c.reminder)

# Campaigns the spam guard (or an organizer) paused; `outreach campaign resume` deletes the row.
pauses = Table(
    "pauses",
    metadata,
    Column("campaign", String(100), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# The organizer console (store/accounts.py): accounts, their sessions, sign-in failures, audit.
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False),
    Column("email_key", String(320), nullable=False, unique=True),  # accounts.account_key
    Column("password_hash", Text, nullable=False),  # argon2id
    Column("role", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("role IN ('viewer', 'organizer', 'admin')", name="ck_users_role"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # SHA-256 of the cookie's token
    Column("user_id", Integer, nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)
Index("ix_sessions_user", sessions.c.user_id)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(320), nullable=False),
    Column("address", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
)
Index("ix_login_failures_account", login_failures.c.account, login_failures.c.at)
Index("ix_login_failures_address", login_failures.c.address, login_failures.c.at)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(320), nullable=False),  # an account's email, or "cli"
    Column("action", String(40), nullable=False),
    Column("detail", Text, nullable=False, default=""),
)
