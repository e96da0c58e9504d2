"""The store's contract runs on every store outreach supports: an in-memory SQLite database,
an SQLite file and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import postgres_database


@pytest.fixture(params=["sqlite-memory", "sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store of each kind."""
    if request.param == "sqlite-memory":
        yield "sqlite://"
    elif request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'outreach.db'}"
    else:
        with postgres_database() as url:
            yield url
