"""The database's campaign: the leader publishes its digest; a follower whose differs waits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from outreach.store import owner
from outreach.store.campaign_version import differing_version, publish, published
from outreach.store.db import open_database
from tests.conftest import postgres_database

OLD, NEW = "a" * 64, "b" * 64


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Workers meet in one database: an SQLite file or PostgreSQL (an in-memory database
    lives in one engine only)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'outreach.db'}"
        return
    with postgres_database() as url:
        yield url


def test_publish_keeps_one_row_and_published_reads_it_back(database_url: str) -> None:
    engine = open_database(database_url)
    assert published(engine) is None
    before = datetime.now(UTC) - timedelta(minutes=1)
    publish(engine, OLD, worker="w1", host="host-a")
    first = published(engine)
    assert first is not None
    assert (first.digest, first.worker, first.host) == (OLD, "w1", "host-a")
    assert before < first.published_at < datetime.now(UTC) + timedelta(minutes=1)
    publish(engine, NEW, worker="w2", host="h" * 300)  # the upsert replaces it
    second = published(open_database(database_url))
    assert second is not None
    assert (second.digest, second.worker, second.host) == (NEW, "w2", "h" * 255)
    assert second.published_at >= first.published_at


def test_the_leader_publishes_and_a_follower_with_other_files_waits(database_url: str) -> None:
    leader, follower = open_database(database_url), open_database(database_url)
    assert owner.leads(leader)  # the oldest lease
    assert differing_version(follower, NEW) is None  # nothing published yet: it goes ahead
    assert published(leader) is None  # a follower publishes nothing
    assert differing_version(leader, OLD) is None
    version = published(follower)
    assert version is not None
    assert (version.digest, version.worker) == (OLD, owner.lease_for(leader).id)
    assert version.host == owner.lease_for(leader).host
    assert differing_version(follower, NEW) == version  # it must not send
    assert differing_version(follower, OLD) is None  # the same files: it sends
    assert differing_version(leader, NEW) is None  # the leader reloaded: it publishes that
    assert differing_version(follower, OLD) is not None
    assert differing_version(follower, NEW) is None


def test_a_follower_that_finds_itself_leader_publishes_its_own(database_url: str) -> None:
    leader, follower = open_database(database_url), open_database(database_url)
    assert owner.leads(leader) and differing_version(leader, OLD) is None
    assert differing_version(follower, NEW) is not None
    owner.lease_for(leader).end()  # the leader stops (or its lease runs out)
    assert differing_version(follower, NEW) is None
    version = published(leader)
    assert version is not None
    assert (version.digest, version.worker) == (NEW, owner.lease_for(follower).id)
