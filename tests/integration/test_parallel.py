"""A large send shared out across forked helper processes, on real SQLite and PostgreSQL."""

from __future__ import annotations

import io
import os
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from outreach.campaign.loader import load_schedule
from outreach.delivery.dispatch import EMAILS_PER_PROCESS, Dispatcher
from outreach.errors import DeliveryError
from outreach.messages import OutgoingEmail
from outreach.rendering.renderer import Renderer
from outreach.store import ledger
from outreach.store.db import open_database
from outreach.store.people import import_supporters
from outreach.store.schema import ledger as ledger_table
from outreach.store.schema import workers
from outreach.supporters.csvfile import parse_supporters
from outreach.tokens import TokenSigner
from outreach.transports.base import EmailTransport
from outreach.transports.outbox import OutboxEmailTransport, OutboxPostTransport

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2018, 3, 2, 4, 0, tzinfo=UTC)  # the demo's reminder is due everywhere
SUPPORTERS = 3 * EMAILS_PER_PROCESS + 123


class PidOutbox(OutboxEmailTransport):
    """The outbox; can fail in a helper process."""

    batch_size = 50

    def __init__(self, folder: Path, helper_fault: str, dispatcher_pid: int) -> None:
        super().__init__(folder, lambda: NOW)
        self.helper_fault = helper_fault
        self.parent = dispatcher_pid

    def send(self, emails: Sequence[OutgoingEmail]) -> list[ledger.Outcome]:
        in_helper = os.getpid() != self.parent
        if in_helper and self.helper_fault == "refuse":
            raise DeliveryError("the provider refused the API key")
        outcomes = super().send(emails)
        if in_helper and self.helper_fault == "die":
            os._exit(9)  # killed after writing, before anything was recorded
        return outcomes


class Progress:
    def __init__(self) -> None:
        self.total = 0
        self.advanced = 0

    def start(self, label: str, total: int) -> None:
        self.total += total

    def advance(self, count: int) -> None:
        self.advanced += count


def supporters_csv(count: int) -> io.StringIO:
    rows = ["email,first_name,region,language,consent,consent_date"]
    rows += [
        f"p{i}@example.net,Zoé{i},{'QC' if i % 2 else 'ON'},{'fr' if i % 3 == 0 else 'en'},"
        "express,2017-06-01"
        for i in range(count)
    ]
    return io.StringIO("\n".join(rows) + "\n")


def dispatcher(
    url: str, tmp_path: Path, processes: int, helper_fault: str = ""
) -> tuple[Dispatcher, Progress]:
    schedule = load_schedule(REPO / "schedules.yaml")
    engine = open_database(url)
    progress = Progress()
    outbox = tmp_path / "outbox"
    pid = os.getpid()

    def helper_parts() -> tuple[Engine, EmailTransport]:
        return open_database(url), PidOutbox(outbox, helper_fault, pid)

    return Dispatcher(
        engine=engine,
        schedule=schedule,
        renderer=Renderer(schedule, REPO / "templates"),
        email_transport=PidOutbox(outbox, helper_fault, pid),
        post_transport=OutboxPostTransport(outbox, lambda: NOW),
        signer=TokenSigner("test-secret"),
        public_url="https://act.example.org",
        progress=progress,
        processes=processes,
        helper_parts=helper_parts,
    ), progress


def senders_by_supporter(engine: Engine) -> dict[int, list[str]]:
    """Each supporter's ledger rows, as `state:pid` of the process that claimed them."""
    query = select(ledger_table.c.supporter_id, ledger_table.c.state, workers.c.pid).join(
        workers, workers.c.id == ledger_table.c.owner
    )
    got: dict[int, list[str]] = {}
    with engine.connect() as conn:
        for supporter_id, state, pid in conn.execute(
            query.where(ledger_table.c.channel == "email")
        ):
            got.setdefault(supporter_id, []).append(f"{state}:{pid}")
    return got


@pytest.fixture
def imported(database_url: str) -> str:
    engine = open_database(database_url)
    import_supporters(engine, parse_supporters(supporters_csv(SUPPORTERS), "s.csv"), NOW)
    engine.dispose()
    return database_url


def test_three_processes_share_a_send_and_each_supporter_gets_one_email(
    imported: str, tmp_path: Path
) -> None:
    sending, progress = dispatcher(imported, tmp_path, processes=3)
    report = sending.run_once(NOW)

    assert report.sent == SUPPORTERS and report.failed == 0
    assert progress.total == progress.advanced == SUPPORTERS
    got = senders_by_supporter(sending.engine)
    assert len(got) == SUPPORTERS and all(len(rows) == 1 for rows in got.values())
    by_process = Counter(rows[0].split(":", 1)[1] for rows in got.values())
    assert len(by_process) == 3, by_process  # the dispatcher and two helpers all sent
    emails = list((tmp_path / "outbox").glob("mexico-refugees/*/*.eml"))
    assert len(emails) == SUPPORTERS
    assert sending.run_once(NOW).sent == 0  # the second run finds nothing left


def test_a_small_send_stays_in_one_process(database_url: str, tmp_path: Path) -> None:
    few = 2 * EMAILS_PER_PROCESS - 1
    sending, _ = dispatcher(database_url, tmp_path, processes=4)
    import_supporters(sending.engine, parse_supporters(supporters_csv(few), "s.csv"), NOW)
    report = sending.run_once(NOW)

    senders = {rows[0].split(":", 1)[1] for rows in senders_by_supporter(sending.engine).values()}
    assert report.sent == few and senders == {str(os.getpid())}


def test_a_helper_refused_by_the_provider_fails_the_run_and_its_share_stays_due(
    imported: str, tmp_path: Path
) -> None:
    sending, _ = dispatcher(imported, tmp_path, processes=2, helper_fault="refuse")
    with pytest.raises(DeliveryError, match="outreach-helper-1: the provider refused the API key"):
        sending.run_once(NOW)

    got = senders_by_supporter(sending.engine)
    assert 0 < len(got) < SUPPORTERS  # the dispatcher's own shards went; the helper's did not
    assert all(len(rows) == 1 for rows in got.values())
    assert ledger.uncertain_batches(sending.engine) == []  # refused: released, not uncertain

    fixed, _ = dispatcher(imported, tmp_path, processes=1)
    assert fixed.run_once(NOW).sent == SUPPORTERS - len(got)
    got = senders_by_supporter(sending.engine)
    assert len(got) == SUPPORTERS and all(len(rows) == 1 for rows in got.values())


def test_a_helper_that_dies_mid_batch_leaves_that_batch_uncertain_not_resent(
    imported: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTREACH_LEASE_SECONDS", "2")
    sending, _ = dispatcher(imported, tmp_path, processes=2, helper_fault="die")
    with pytest.raises(DeliveryError, match=r"stopped \(exit code 9\)"):
        sending.run_once(NOW)

    deadline = time.monotonic() + 30  # the dead helper's lease runs out
    while not (uncertain := ledger.uncertain_batches(sending.engine)):
        assert time.monotonic() < deadline, "the dead helper's batch never became uncertain"
        time.sleep(0.05)
    assert len(uncertain) == 1 and len(uncertain[0].supporter_ids) == PidOutbox.batch_size
    handled = len(senders_by_supporter(sending.engine))
    fixed, _ = dispatcher(imported, tmp_path, processes=1)
    report = fixed.run_once(NOW)
    in_doubt = set(uncertain[0].supporter_ids)
    got = senders_by_supporter(sending.engine)
    assert report.sent == SUPPORTERS - handled  # everything else, and not the batch in doubt
    assert len(got) == SUPPORTERS and all(len(rows) == 1 for rows in got.values())
    assert {s for s, rows in got.items() if rows[0].startswith("claimed")} == in_doubt


def test_stop_halts_the_helpers_too_after_their_batch_in_hand(
    imported: str, tmp_path: Path
) -> None:
    sending, _ = dispatcher(imported, tmp_path, processes=3)
    parent_send = sending.email_transport.send
    batches = 0

    def send_then_stop(emails: Sequence[OutgoingEmail]) -> list[ledger.Outcome]:
        nonlocal batches
        batches += 1
        if batches == 3:
            sending.stop()  # as the worker's SIGTERM handler does
        return parent_send(emails)

    sending.email_transport.send = send_then_stop  # type: ignore[method-assign]
    report = sending.run_once(NOW)

    got = senders_by_supporter(sending.engine)
    assert report.sent == len(got) < SUPPORTERS / 2
    assert all(rows == [rows[0]] and rows[0].startswith("sent") for rows in got.values())
    assert ledger.uncertain_batches(sending.engine) == []
    rest, _ = dispatcher(imported, tmp_path, processes=3)
    assert rest.run_once(NOW).sent == SUPPORTERS - len(got)
