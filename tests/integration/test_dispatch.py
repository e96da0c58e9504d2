"""Dispatch over a real store: crashes, provider refusals and concurrent workers."""

from __future__ import annotations

import gc
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from outreach.campaign.loader import load_schedule
from outreach.delivery.dispatch import Dispatcher
from outreach.delivery.heap import SEND_YOUNG_THRESHOLD
from outreach.errors import DeliveryError
from outreach.messages import Outcome, OutgoingEmail
from outreach.rendering.renderer import Renderer
from outreach.store import ledger, schema
from outreach.store.db import open_database
from outreach.store.people import import_supporters
from outreach.supporters.csvfile import parse_supporters
from outreach.testing import MemoryEmailTransport
from outreach.tokens import TokenSigner
from outreach.transports.outbox import OutboxPostTransport

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2018, 3, 2, 4, 0, tzinfo=UTC)  # the two-weeks-before reminder is due everywhere
EXPECTED = 49  # the demo's 50 supporters but one whose implied consent lapsed


def _the_claiming_process_died(engine: Engine) -> None:
    """What a crash leaves: claims whose owner no longer runs."""
    with engine.begin() as conn:
        conn.execute(update(schema.ledger).values(owner="gone:1:0"))


def _dispatcher(url: str, transport: MemoryEmailTransport, tmp_path: Path) -> Dispatcher:
    schedule = load_schedule(REPO / "schedules.yaml")
    engine = open_database(url)
    return Dispatcher(
        engine=engine,
        schedule=schedule,
        renderer=Renderer(schedule, REPO / "templates"),
        email_transport=transport,
        post_transport=OutboxPostTransport(tmp_path / "outbox", lambda: NOW),
        signer=TokenSigner("test-secret"),
        public_url="https://act.example.org",
    )


def _with_demo_supporters(dispatcher: Dispatcher) -> Dispatcher:
    with (REPO / "examples" / "supporters.csv").open(encoding="utf-8", newline="") as handle:
        import_supporters(dispatcher.engine, parse_supporters(handle, "supporters.csv"), NOW)
    return dispatcher


def test_a_crash_leaves_an_uncertain_batch_that_is_resent_only_on_request(
    database_url: str, tmp_path: Path
) -> None:
    crashing = MemoryEmailTransport(crash_on_batch=2)
    with pytest.raises(SystemExit):
        _with_demo_supporters(_dispatcher(database_url, crashing, tmp_path)).run_once(NOW)
    assert len(crashing.received) == 10

    transport = MemoryEmailTransport()
    dispatcher = _dispatcher(database_url, transport, tmp_path)
    assert ledger.uncertain_batches(dispatcher.engine) == []  # its process still runs
    _the_claiming_process_died(dispatcher.engine)
    [uncertain] = ledger.uncertain_batches(dispatcher.engine)
    assert len(uncertain.supporter_ids) == 10
    report = dispatcher.run_once(NOW)
    assert report.sent == EXPECTED - 20  # neither the first batch nor the uncertain one
    resent = dispatcher.resend_uncertain(NOW)
    assert resent.sent == 10
    assert ledger.uncertain_batches(dispatcher.engine) == []
    everyone = crashing.received + transport.received
    assert len(everyone) == len(set(everyone)) == EXPECTED


def test_a_refusing_provider_records_nothing_as_sent(database_url: str, tmp_path: Path) -> None:
    refusing = MemoryEmailTransport(refuse="the provider refused the API key")
    dispatcher = _with_demo_supporters(_dispatcher(database_url, refusing, tmp_path))
    with pytest.raises(DeliveryError):
        dispatcher.run_once(NOW)
    assert (
        ledger.counts_by_reminder(dispatcher.engine).get(
            ("mexico-refugees", "two-weeks-before", "email"), {}
        )
        == {}
    )
    transport = MemoryEmailTransport()
    assert _dispatcher(database_url, transport, tmp_path).run_once(NOW).sent == EXPECTED


class _HeapWatchingTransport(MemoryEmailTransport):
    """Notes how the collector stands while each batch is sent."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, int]] = []

    def send(self, emails: Sequence[OutgoingEmail]) -> list[Outcome]:
        self.seen.append((gc.get_freeze_count(), gc.get_threshold()[0]))
        return super().send(emails)


def test_a_send_runs_with_the_heap_before_it_frozen_and_leaves_the_collector_as_it_was(
    database_url: str, tmp_path: Path
) -> None:
    transport = _HeapWatchingTransport()
    before = gc.get_threshold(), gc.get_freeze_count()
    assert (
        _with_demo_supporters(_dispatcher(database_url, transport, tmp_path)).run_once(NOW).sent
        == EXPECTED
    )
    assert transport.seen and all(
        frozen > 0 and young == SEND_YOUNG_THRESHOLD for frozen, young in transport.seen
    )
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_two_workers_at_once_never_send_twice(database_url: str, tmp_path: Path) -> None:
    transport = MemoryEmailTransport()
    first = _with_demo_supporters(_dispatcher(database_url, transport, tmp_path))
    second = _dispatcher(database_url, transport, tmp_path)
    threads = [threading.Thread(target=d.run_once, args=(NOW,)) for d in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(transport.received) == len(set(transport.received)) == EXPECTED


def test_stop_finishes_the_batch_in_hand_and_starts_no_other(
    database_url: str, tmp_path: Path
) -> None:
    class StoppingTransport(MemoryEmailTransport):
        dispatcher: Dispatcher

        def send(self, emails: Sequence[OutgoingEmail]) -> list[ledger.Outcome]:
            self.dispatcher.stop()
            return super().send(emails)

    transport = StoppingTransport()
    dispatcher = _with_demo_supporters(_dispatcher(database_url, transport, tmp_path))
    transport.dispatcher = dispatcher
    report = dispatcher.run_once(NOW)
    assert report.sent == len(transport.received) == 10
    assert ledger.uncertain_batches(dispatcher.engine) == []


def test_the_announcement_is_posted_once(database_url: str, tmp_path: Path) -> None:
    dispatcher = _with_demo_supporters(_dispatcher(database_url, MemoryEmailTransport(), tmp_path))
    assert dispatcher.run_once(NOW).sends[0].announced
    assert not any(s.announced for s in dispatcher.run_once(NOW).sends)
    drafts = list((tmp_path / "outbox" / "posts").glob("*.json"))
    assert len(drafts) == 1
