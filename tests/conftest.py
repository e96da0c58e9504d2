"""Shared fixtures: real databases (SQLite files, and PostgreSQL when CI provides one)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from outreach.store import owner

REPO = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("OUTREACH_TEST_POSTGRES_URL")


def copy_demo(folder: Path, *, examples: bool = True) -> Path:
    """The demo campaign (schedules.yaml, templates/ and, by default, examples/) in `folder`."""
    shutil.copy(REPO / "schedules.yaml", folder / "schedules.yaml")
    shutil.copytree(REPO / "templates", folder / "templates")
    if examples:
        shutil.copytree(REPO / "examples", folder / "examples")
    return folder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A working folder with the demo campaign, templates and example supporters."""
    return copy_demo(tmp_path)


@pytest.fixture(autouse=True)
def _leases_end_with_the_test() -> Iterator[None]:
    """Each test's workers give their leases up when it ends, so that no heartbeat outlives
    its test database and speaks up in a later test's log."""
    yield
    owner.end_leases()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: an SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'outreach.db'}"
        return
    with postgres_database() as url:
        yield url


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new PostgreSQL database, dropped afterwards (skips without a server)."""
    if not POSTGRES_URL:
        pytest.skip("OUTREACH_TEST_POSTGRES_URL is not set (.ci/run starts a PostgreSQL server)")
    name = f"outreach_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = POSTGRES_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        owner.end_leases()  # before the database goes
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
