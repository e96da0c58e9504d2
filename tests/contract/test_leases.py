"""Whether a claim's worker is alive is the database's word: its lease in `workers`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from outreach.config import DEFAULT_LEASE_SECONDS
from outreach.delivery.parallel import shards_from_place
from outreach.errors import DeliveryError, OutreachError
from outreach.store import ledger, owner, schema
from outreach.store.db import open_database
from outreach.store.schema import workers
from tests.conftest import postgres_database

NOW = datetime(2018, 3, 1, 14, 0, tzinfo=UTC)
CLAIM_AND_DIE = """
import os, signal, sys
from datetime import datetime, UTC
from outreach.store import ledger
from outreach.store.db import open_database
engine = open_database(sys.argv[1])
ledger.claim(engine, "c", "r", "email", [1, 2, 3], datetime(2018, 3, 1, tzinfo=UTC))
print("claimed", flush=True)
signal.pause() if sys.argv[2] == "live" else os.kill(os.getpid(), signal.SIGKILL)
"""


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll until `condition` holds; fail after `timeout` seconds (a guard, not a measure)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


def _store(url: str, people: int = 10) -> Engine:
    """A database with supporters 1 to `people` (claims are of supporters that exist)."""
    engine = open_database(url)
    with engine.begin() as conn:
        conn.execute(
            schema.supporters.insert(),
            [
                {
                    "email": f"p{n}@example.org",
                    "address_key": f"p{n}@example.org",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for n in range(1, people + 1)
            ],
        )
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Leases are seen across processes: an SQLite file or PostgreSQL (an in-memory
    database lives in one process only)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'outreach.db'}"
        return
    with postgres_database() as url:
        yield url


def _claimer(url: str, mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "OUTREACH_LEASE_SECONDS": "2"}
    child = subprocess.Popen(
        [sys.executable, "-c", CLAIM_AND_DIE, url, mode], env=env, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "claimed\n"
    return child


def _states(engine: Engine) -> dict[str, int]:
    return ledger.counts_by_reminder(engine).get(("c", "r", "email"), {})


def test_our_own_claims_are_sending_never_uncertain(database_url: str) -> None:
    engine = _store(database_url)
    batch, won = ledger.claim(engine, "c", "r", "email", [1, 2], NOW)
    assert won == {1, 2}
    assert _states(engine) == {ledger.SENDING: 2}
    assert ledger.uncertain_batches(engine) == []
    assert ledger.take_over(engine, batch)[1] == []
    ledger.hold_lease(engine)  # held: no error


def test_a_live_worker_in_another_process_is_sending(database_url: str) -> None:
    engine = _store(database_url)
    child = _claimer(database_url, "live")
    try:
        time.sleep(3)  # longer than its lease: its heartbeat keeps it alive
        assert _states(engine) == {ledger.SENDING: 3}
        assert ledger.uncertain_batches(engine) == []
    finally:
        child.kill()
        child.wait()


def test_a_killed_worker_not_yet_reaped_is_uncertain_within_its_lease(database_url: str) -> None:
    engine = _store(database_url)
    child = _claimer(database_url, "die")
    wait_for(lambda: _states(engine) == {ledger.CLAIMED: 3})  # its lease ran out
    assert child.poll() is None or child.returncode == -signal.SIGKILL  # a zombie until here
    [uncertain] = ledger.uncertain_batches(engine)
    assert uncertain.supporter_ids == (1, 2, 3)
    _, taken = ledger.take_over(engine, uncertain.batch)
    assert taken == [1, 2, 3]
    assert ledger.take_over(engine, uncertain.batch)[1] == []  # taken once only
    assert _states(engine) == {ledger.SENDING: 3}
    child.wait()


def test_an_expired_lease_is_never_renewed_and_stops_the_worker(database_url: str) -> None:
    engine = _store(database_url)
    ledger.claim(engine, "c", "r", "email", [1], NOW)
    lease = owner.lease_for(engine)
    with engine.begin() as conn:
        past = owner.database_now(conn) - timedelta(seconds=1)
        conn.execute(update(workers).where(workers.c.id == lease.id).values(expires_at=past))
    assert _states(engine) == {ledger.CLAIMED: 1}
    lease.renew()
    assert _states(engine) == {ledger.CLAIMED: 1}  # still uncertain: someone may take it over
    with pytest.raises(DeliveryError, match="stopped sending: its lease in the database expired"):
        ledger.hold_lease(engine)
    _, won = ledger.claim(engine, "c", "r", "email", [2], NOW)  # a new lease, a new id
    assert won == {2} and owner.lease_for(engine).id != lease.id
    assert _states(engine) == {ledger.CLAIMED: 1, ledger.SENDING: 1}


def test_a_worker_that_cannot_renew_stops_before_its_lease_can_expire(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTREACH_LEASE_SECONDS", "4")
    engine = _store(database_url)
    ledger.claim(engine, "c", "r", "email", [1], NOW)

    def unreachable(self: owner.Lease) -> None:
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(owner.Lease, "renew", unreachable)

    def refuses() -> bool:
        try:
            ledger.hold_lease(engine)
        except DeliveryError:
            return True
        return False

    wait_for(refuses)
    assert _states(engine) == {ledger.SENDING: 1}  # it stopped while the lease still held


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "3601"])
def test_the_lease_length_is_checked(raw: str) -> None:
    with pytest.raises(OutreachError, match="OUTREACH_LEASE_SECONDS"):
        owner.lease_seconds({"OUTREACH_LEASE_SECONDS": raw})
    assert owner.lease_seconds({}) == DEFAULT_LEASE_SECONDS <= 60


def test_a_claim_skips_supporters_another_worker_is_claiming(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks: PostgreSQL (SQLite has one writer at a time)")
    engine = _store(database_url)
    other = open_database(database_url)
    with other.begin() as conn:  # another worker, mid-claim of supporters 1 to 5
        conn.execute(
            select(schema.supporters.c.id).where(schema.supporters.c.id <= 5).with_for_update()
        ).all()
        _, won = ledger.claim(engine, "c", "r", "email", list(range(1, 11)), NOW)
        assert won == set(range(6, 11))  # taken at once, without waiting
    _, won = ledger.claim(engine, "c", "r", "email", list(range(1, 11)), NOW)
    assert won == set(range(1, 6))  # free again once that worker's claim ended


def test_the_oldest_live_worker_leads_and_the_next_takes_over(database_url: str) -> None:
    first, second = _store(database_url), open_database(database_url)
    assert owner.leads(first)
    assert not owner.leads(second)  # one leader per database
    owner.lease_for(first).end()  # the leader stops (or its lease runs out)
    assert owner.leads(second)


def test_workers_start_in_different_places_and_each_covers_everyone(database_url: str) -> None:
    first, second = _store(database_url, people=80), open_database(database_url)
    assert owner.place(first) == (0, 1)
    assert owner.place(second) == (1, 2)
    mine, theirs = shards_from_place(first, 8), shards_from_place(second, 8)
    assert mine[0] != theirs[0]  # they divide the audience rather than race for it
    assert sorted(mine, key=lambda s: s.first) == sorted(theirs, key=lambda s: s.first)
    owner.lease_for(first).end()
    assert owner.place(second) == (0, 1)
