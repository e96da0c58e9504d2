"""Every database upgrades in place: from revision 0001, from release 0.1.0 (no
`alembic_version`), from before the ledger's `owner` column; the result is the fresh schema."""

from __future__ import annotations

import warnings
from datetime import date, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, String, inspect, select, text
from sqlalchemy.exc import IntegrityError

from outreach.errors import OutreachError
from outreach.store import ledger, schema, versions
from outreach.store.db import connect, open_database
from outreach.store.migrations.baseline import baseline_metadata

THEN = datetime(2018, 3, 1, 14, 0)  # naive UTC, as revision 0001 stores it


def _revision_0001(url: str) -> Engine:
    engine = connect(url)
    with engine.begin() as conn:
        command.upgrade(versions.alembic_config(conn), versions.BASELINE)
    return engine


def _fill(engine: Engine, *, owner: bool = True, keys: bool = False) -> None:
    """A little of everything release 0.1.0 stored (`keys`: as the head stores it)."""
    base = baseline_metadata().tables
    if keys:
        base["supporters"].append_column(Column("address_key", String(512)))
    ledger_row = {
        "campaign": "c", "reminder": "r", "channel": "email", "batch": "b1",
        "claimed_at": THEN, "detail": "",
    }  # fmt: skip
    with engine.begin() as conn:
        conn.execute(
            base["supporters"].insert(),
            [
                {"email": f"p{n}@example.org", "first_name": "", "last_name": "", "city": "",
                 "region": "ON", "postal_code": "", "country": "", "language": "en",
                 "tags": "", "consent": "express", "consent_date": date(2017, 1, 1),
                 "consent_source": "", "fields": "{}", "created_at": THEN, "updated_at": THEN,
                 **({"address_key": f"p{n}@example.org"} if keys else {})}
                for n in (1, 2, 3)
            ],
        )  # fmt: skip
        old = {"owner": "old-host:123:456"} if owner else {}
        conn.execute(
            text(
                "INSERT INTO ledger (campaign, reminder, channel, batch, claimed_at, detail, "
                f"supporter_id, state{', owner' if owner else ''}) VALUES (:campaign, "
                f":reminder, :channel, :batch, :claimed_at, :detail, :supporter_id, :state"
                f"{', :owner' if owner else ''})"
            ),
            [
                {**ledger_row, **old, "supporter_id": 1, "state": "sent"},
                {**ledger_row, **old, "supporter_id": 2, "state": "claimed"},
            ],
        )
        conn.execute(base["settings"].insert().values(key="unsubscribe-secret", value="s"))
        conn.execute(base["pauses"].insert().values(campaign="c", reason="r", created_at=THEN))


def _assert_head_schema(engine: Engine) -> None:
    """Same tables, columns, types, indexes as the fresh schema; the new checks hold."""
    with engine.connect() as conn, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        assert MigrationContext.configure(conn).get_current_revision() == versions.HEAD
        differences = compare_metadata(MigrationContext.configure(conn), schema.metadata)
        tables = set(inspect(conn).get_table_names())
    assert differences == []
    assert tables == {*schema.metadata.tables, "alembic_version"}
    if engine.dialect.name == "postgresql":  # room on each page for recorded rows (HOT)
        with engine.connect() as conn:
            options = conn.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'ledger'"))
        assert options.scalar() == [f"fillfactor={schema.LEDGER_FILLFACTOR}"]
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE ledger SET state = 'lost' WHERE supporter_id = 1"))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE supporters SET consent = 'maybe' WHERE id = 1"))
    with pytest.raises(IntegrityError), engine.begin() as conn:  # one supporter per key
        conn.execute(text("UPDATE supporters SET address_key = 'p1@example.org' WHERE id = 2"))


def _assert_data_kept(engine: Engine, owner: str) -> None:
    with engine.connect() as conn:
        ledger_rows = conn.execute(
            select(
                schema.ledger.c.supporter_id, schema.ledger.c.state, schema.ledger.c.owner
            ).order_by(schema.ledger.c.supporter_id)
        ).all()
        emails = conn.execute(select(schema.supporters.c.email)).scalars().all()
        secret = conn.execute(select(schema.settings.c.value)).scalar()
        open_batches = conn.execute(select(schema.open_batches)).all()
    assert [tuple(r) for r in ledger_rows] == [(1, "sent", owner), (2, "claimed", owner)]
    assert [tuple(r) for r in open_batches] == [("b1", owner)]  # the claim is still found:
    assert [b.supporter_ids for b in ledger.uncertain_batches(engine)] == [(2,)]
    assert sorted(emails) == ["p1@example.org", "p2@example.org", "p3@example.org"]
    assert secret == "s"


def test_the_head_is_the_newest_script() -> None:
    scripts = ScriptDirectory(str(versions.MIGRATIONS))
    assert scripts.get_heads() == [versions.HEAD]
    assert [s.revision for s in scripts.walk_revisions()][-1] == versions.BASELINE


def test_a_fresh_database_is_made_at_the_head(database_url: str) -> None:
    _assert_head_schema(_filled_fresh(database_url))


def _filled_fresh(url: str) -> Engine:
    engine = open_database(url)
    _fill(engine, keys=True)
    return engine


def test_revision_0001_with_data_upgrades_to_the_fresh_schema(database_url: str) -> None:
    engine = _revision_0001(database_url)
    _fill(engine)
    with pytest.raises(OutreachError, match=r"revision 0001.*run `outreach db upgrade`"):
        open_database(database_url)
    assert versions.upgrade(engine) == (versions.BASELINE, versions.HEAD)
    _assert_head_schema(engine)
    _assert_data_kept(engine, "old-host:123:456")
    assert versions.upgrade(engine) == (versions.HEAD, versions.HEAD)
    open_database(database_url)  # now accepted


def test_release_0_1_0_without_alembic_version_is_adopted(database_url: str) -> None:
    engine = connect(database_url)
    baseline_metadata().create_all(engine)  # what release 0.1.0 did on first use
    _fill(engine)
    with pytest.raises(OutreachError, match=r"before schema migrations: run `outreach db upgrade`"):
        open_database(database_url)
    assert versions.upgrade(engine) == (versions.LEGACY, versions.HEAD)
    _assert_head_schema(engine)
    _assert_data_kept(engine, "old-host:123:456")


def test_a_ledger_from_before_its_owner_column_gains_it(database_url: str) -> None:
    engine = connect(database_url)
    before_owner = baseline_metadata()
    ledger = before_owner.tables["ledger"]
    ledger._columns.remove(ledger.c.owner)
    before_owner.create_all(engine)
    assert "owner" not in {c["name"] for c in inspect(engine).get_columns("ledger")}
    _fill(engine, owner=False)
    assert versions.upgrade(engine) == (versions.LEGACY, versions.HEAD)
    _assert_head_schema(engine)
    _assert_data_kept(engine, "")


def test_a_database_from_a_newer_outreach_is_refused(database_url: str) -> None:
    engine = open_database(database_url)
    with engine.begin() as conn:
        conn.execute(versions.alembic_version.update().values(version_num="9999"))
    with pytest.raises(OutreachError, match="newer than this outreach knows"):
        open_database(database_url)


def test_tables_missing_from_an_older_release_are_made(database_url: str) -> None:
    engine = connect(database_url)
    older = baseline_metadata()
    older.remove(older.tables["pauses"])
    older.remove(older.tables["events"])
    older.create_all(engine)
    assert versions.upgrade(engine) == (versions.LEGACY, versions.HEAD)
    _assert_head_schema_empty(engine)


def _assert_head_schema_empty(engine: Engine) -> None:
    with engine.connect() as conn, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        assert compare_metadata(MigrationContext.configure(conn), schema.metadata) == []
