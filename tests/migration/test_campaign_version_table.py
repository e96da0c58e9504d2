"""Revision 0030: a database at 0020 gains `campaign_version`, one row at most, and the
fresh schema; the downgrade takes it away again."""

from __future__ import annotations

import warnings
from datetime import datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from outreach.store import schema, versions
from outreach.store.db import connect

THEN = datetime(2018, 3, 1, 14, 0)
ROW = (
    "INSERT INTO campaign_version (id, digest, host, worker, published_at) "
    "VALUES (:id, 'd', 'host-a', 'w', :at)"
)


def test_revision_0020_upgrades_to_the_fresh_schema_and_back(database_url: str) -> None:
    engine = connect(database_url)
    with engine.begin() as conn:
        command.upgrade(versions.alembic_config(conn), "0020")
    assert "campaign_version" not in inspect(engine).get_table_names()
    assert versions.upgrade(engine) == ("0020", versions.HEAD)
    with engine.connect() as conn, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        assert compare_metadata(MigrationContext.configure(conn), schema.metadata) == []
    with engine.begin() as conn:
        conn.execute(text(ROW), {"id": 1, "at": THEN})
    with pytest.raises(IntegrityError), engine.begin() as conn:  # one row only
        conn.execute(text(ROW), {"id": 2, "at": THEN})
    with engine.begin() as conn:
        command.downgrade(versions.alembic_config(conn), "0020")
    assert "campaign_version" not in inspect(engine).get_table_names()
