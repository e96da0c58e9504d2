"""The schema's revision: made at the head in a fresh database, checked on every open,
upgraded by `outreach db upgrade` (Alembic, scripts in `store/migrations/`).

A database made by release 0.1.0 (`create_all`, no `alembic_version`) is adopted: the
tables and indexes that release made are completed (a ledger from before its `owner`
column gains it), stamped as revision 0001, then upgraded like any other.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Column, Connection, Engine, MetaData, String, Table, inspect, select, text
from sqlalchemy.exc import DBAPIError

from outreach.errors import OutreachError
from outreach.store.migrations.baseline import baseline_metadata
from outreach.store.schema import metadata

if TYPE_CHECKING:
    from alembic.config import Config

HEAD = "0050"
"""The newest revision in `store/migrations/versions/` (a test keeps them equal)."""
BASELINE = "0001"
LEGACY = "legacy"
"""`current_revision` of a database made before migrations."""
MIGRATIONS = Path(__file__).parent / "migrations"
UPGRADE_HINT = "run `outreach db upgrade`"
_LOCK = 7_405_311_011
"""PostgreSQL advisory lock key: one process at a time creates or upgrades the schema."""

alembic_version = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), primary_key=True),
)
"""Alembic's own table, as Alembic makes it."""


def current_revision(conn: Connection) -> str | None:
    """The database's revision; None when it has none of outreach's tables; `LEGACY`."""
    names = set(inspect(conn).get_table_names())
    if alembic_version.name in names:
        found = conn.execute(select(alembic_version.c.version_num)).scalar()
        if found is not None:
            return str(found)
    return LEGACY if names & set(baseline_metadata().tables) else None


def ensure_current(engine: Engine) -> None:
    """Make a fresh database at the head; refuse one at another revision, in one line."""
    try:
        with engine.begin() as conn:
            _serialize(conn)
            revision = current_revision(conn)
            if revision is None:
                metadata.create_all(conn)
                alembic_version.create(conn)
                conn.execute(alembic_version.insert().values(version_num=HEAD))
                return
    except DBAPIError:  # another process made it at the same moment
        with engine.connect() as conn:
            revision = current_revision(conn)
    if revision == HEAD:
        return
    if revision == LEGACY:
        raise OutreachError(f"the database was made before schema migrations: {UPGRADE_HINT}")
    if revision in _known_revisions():
        raise OutreachError(
            f"the database schema is at revision {revision}, this outreach needs {HEAD}: "
            + UPGRADE_HINT
        )
    raise OutreachError(
        f"the database schema (revision {revision}) is newer than this outreach knows "
        f"(up to {HEAD}): install the outreach version that made it"
    )


def _known_revisions() -> set[str]:
    return {path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("[0-9]*.py")}


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the head; the revisions before and after."""
    from alembic import command  # only this command needs Alembic

    with engine.begin() as conn:
        _serialize(conn)
        before = current_revision(conn)
        if before == LEGACY:
            _adopt(conn)
            conn.execute(alembic_version.insert().values(version_num=BASELINE))
        command.upgrade(alembic_config(conn), "head")
        after = current_revision(conn)
    assert after is not None
    return before, after


def alembic_config(conn: Connection) -> Config:
    """Alembic, run on `conn` with the scripts this package ships."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def _serialize(conn: Connection) -> None:
    """On PostgreSQL, wait for any other process creating or upgrading the schema."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})


ADDABLE = {("ledger", "owner"): "VARCHAR(300) NOT NULL DEFAULT ''"}
"""Columns release 0.1.0 added to existing tables after they were first made."""


def _adopt(conn: Connection) -> None:
    """Complete a database made by release 0.1.0 (or before) to revision 0001."""
    inspector = inspect(conn)
    existing = set(inspector.get_table_names())
    alembic_version.create(conn)
    for table in baseline_metadata().sorted_tables:
        if table.name not in existing:
            table.create(conn)
            continue
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in columns:
                continue
            ddl = ADDABLE.get((table.name, column.name))
            if ddl is None:
                raise OutreachError(
                    f"the database's table {table.name} has no column {column.name}, and no "
                    "release of outreach made it so: it cannot be upgraded"
                )
            conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {ddl}"))
            if conn.dialect.name == "postgresql":  # as release 0.1.0 made it
                conn.execute(text(f"ALTER TABLE {table.name} ALTER {column.name} DROP DEFAULT"))
        present = _index_names(conn, table.name)
        for index in table.indexes:
            if index.name not in present:
                index.create(conn)


def _index_names(conn: Connection, table: str) -> set[str]:
    """The table's indexes by name (SQLAlchemy skips SQLite's expression indexes)."""
    if conn.dialect.name == "sqlite":
        query = text("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t")
    else:
        query = text(
            "SELECT indexname FROM pg_indexes "
            "WHERE tablename = :t AND schemaname = current_schema()"
        )
    return {str(name) for name in conn.execute(query, {"t": table}).scalars()}
