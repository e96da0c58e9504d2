"""The store behaves the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, event, select, text, update

from outreach.campaign.model import Audience
from outreach.store import ledger, schema
from outreach.store.audience import Selection, count_audience, stream_due, zones_in_use
from outreach.store.db import open_database, stored_secret
from outreach.store.owner import lease_for
from outreach.store.people import export_rows, import_supporters, suppress
from outreach.supporters.csvfile import parse_supporters

NOW = datetime(2018, 3, 1, 14, 0, tzinfo=UTC)
CSV = """email,first_name,city,region,language,tags,consent,consent_date
ana@example.org,Ana,Halifax,NS,en,refugees;mexico,express,2017-01-01
Benoit@Example.ORG,Benoît,Québec,QC,fr,nafta,express,2017-01-01
carl@example.org,Carl,Vancouver,BC,en,,implied,2015-06-01
dina@example.org,Dina,Regina,SK,es,refugees,implied,2017-06-01
bad-address,Eve,,,en,,,
"""


def _engine(url: str, csv_text: str = CSV) -> Engine:
    engine = open_database(url)
    import_supporters(engine, parse_supporters(csv_text.splitlines(True), "t.csv"), NOW)
    return engine


EVERYONE = Audience()


def _selection(audience: Audience = EVERYONE, zones: tuple[str, ...] | None = None) -> Selection:
    return Selection(audience, ("en", "fr"), "America/Toronto", zones)


def _ids(engine: Engine, selection: Selection, chunk: int = 2) -> list[int]:
    chunks = stream_due(engine, selection, "c", "r", NOW.date(), chunk)
    return [int(row["id"]) for rows in chunks for row in rows]  # type: ignore[call-overload]


def test_import_reports_and_updates_by_email_ignoring_case(database_url: str) -> None:
    engine = open_database(database_url)
    report = import_supporters(engine, parse_supporters(CSV.splitlines(True), "t.csv"), NOW)
    assert (report.imported, report.updated, [r.line for r in report.rejected]) == (4, 0, [6])
    again = "email,city\nBENOIT@example.org,Montréal\n"
    report = import_supporters(engine, parse_supporters(again.splitlines(True), "u.csv"), NOW)
    assert (report.imported, report.updated) == (0, 1)
    cities = {row["email"].lower(): row["city"] for row in export_rows(engine)}
    assert cities["benoit@example.org"] == "Montréal"
    assert len(cities) == 4


def test_lapsed_and_suppressed_are_excluded_and_counted(database_url: str) -> None:
    engine = _engine(database_url)
    assert suppress(engine, "ANA@example.org", "unsubscribe", "", NOW)
    assert not suppress(engine, "ana@example.org", "unsubscribe", "", NOW)
    with engine.connect() as conn:
        counts = count_audience(conn, _selection(), date(2018, 3, 1))
    assert (counts.reachable, counts.suppressed, counts.lapsed) == (2, 1, 1)
    emails = {
        row["email"]
        for rows in stream_due(engine, _selection(), "c", "r", NOW.date(), 10)
        for row in rows
    }
    assert emails == {"Benoit@example.org", "dina@example.org"}


def test_audience_by_tag_language_and_region(database_url: str) -> None:
    engine = _engine(database_url)
    by_tag = _ids(engine, _selection(Audience(tags=("Refugees",))))
    assert len(by_tag) == 2
    # Dina writes in Spanish, which the campaign does not have: she counts as English.
    english = {
        row["email"]
        for rows in stream_due(
            engine, _selection(Audience(languages=("en",))), "c", "r", NOW.date(), 10
        )
        for row in rows
    }
    assert english == {"ana@example.org", "dina@example.org"}
    assert len(_ids(engine, _selection(Audience(regions=("QC",))))) == 1


def test_zones_come_from_region_or_default(database_url: str) -> None:
    engine = _engine(database_url)
    with engine.connect() as conn:
        zones = set(zones_in_use(conn, "America/Toronto"))
    assert zones == {"America/Halifax", "America/Toronto", "America/Vancouver", "America/Regina"}
    only_halifax = _ids(engine, _selection(zones=("America/Halifax",)))
    assert len(only_halifax) == 1


def test_claim_is_won_once_and_the_ledger_excludes_claimed(database_url: str) -> None:
    engine = _engine(database_url)
    ids = _ids(engine, _selection())
    batch, won = ledger.claim(engine, "c", "r", "email", ids, NOW)
    assert won == set(ids)
    _, second = ledger.claim(engine, "c", "r", "email", ids, NOW)
    assert second == set()
    assert _ids(engine, _selection()) == []
    assert ledger.uncertain_batches(engine) == []  # still in flight: this process runs
    assert ledger.counts_by_reminder(engine)[("c", "r", "email")] == {"sending": len(ids)}
    with engine.begin() as conn:  # the claiming process died
        conn.execute(update(schema.ledger).values(owner="gone:1:0"))
    [uncertain] = ledger.uncertain_batches(engine)
    assert uncertain.batch == batch and set(uncertain.supporter_ids) == set(ids)
    ledger.record(
        engine, batch, [ledger.Outcome(ids[0], True), ledger.Outcome(ids[1], False, "550")], NOW
    )
    counts = ledger.counts_by_reminder(engine)[("c", "r", "email")]
    assert counts == {"sent": 1, "failed": 1, "claimed": len(ids) - 2}


def test_a_claim_wins_exactly_the_ids_no_one_had(database_url: str) -> None:
    engine = _engine(database_url)
    ids = _ids(engine, _selection())
    _, first = ledger.claim(engine, "c", "r", "email", [ids[0], ids[0]], NOW)
    _, rest = ledger.claim(engine, "c", "r", "email", ids, NOW)
    assert first == {ids[0]} and rest == set(ids[1:])


def test_a_claim_every_id_of_which_is_won_reads_nothing_back(database_url: str) -> None:
    engine = _engine(database_url)
    ids = _ids(engine, _selection())
    statements: list[str] = []
    lease_for(engine)  # taking the lease comes before

    def note(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", note)
    try:
        _, won = ledger.claim(engine, "c", "r", "email", ids, NOW)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert won == set(ids)
    assert not [s for s in statements if s.startswith("SELECT") and "ledger" in s], statements


def test_release_forgets_claims_never_handed_over(database_url: str) -> None:
    engine = _engine(database_url)
    ids = _ids(engine, _selection())
    batch, _ = ledger.claim(engine, "c", "r", "email", ids, NOW)
    ledger.release(engine, batch)
    assert _ids(engine, _selection()) == ids


def _open_batches(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(schema.open_batches.c.batch)).scalars())


def test_a_batch_is_open_while_any_of_its_claims_is_unrecorded(database_url: str) -> None:
    engine = _engine(database_url)
    ids = _ids(engine, _selection())
    assert len(ids) >= 3
    first, _ = ledger.claim(engine, "c", "r", "email", ids[:2], NOW)
    second, _ = ledger.claim(engine, "c", "r", "email", ids[2:], NOW)
    _, won = ledger.claim(engine, "c", "r", "email", ids, NOW)  # nothing won: nothing opened
    assert won == set() and _open_batches(engine) == {first, second}
    ledger.record(engine, first, [ledger.Outcome(ids[0], True)], NOW)
    assert _open_batches(engine) == {first, second}  # ids[1] is still claimed
    ledger.record(engine, first, [ledger.Outcome(ids[1], False, "550")], NOW)
    assert _open_batches(engine) == {second}
    ledger.release(engine, second)
    assert _open_batches(engine) == set()


def test_a_taken_over_batch_moves_and_a_provider_event_closes_it(database_url: str) -> None:
    engine = _engine(database_url)
    ids = _ids(engine, _selection())
    batch, _ = ledger.claim(engine, "c", "r", "email", ids, NOW)
    with engine.begin() as conn:  # the claiming process died
        conn.execute(update(schema.ledger).values(owner="gone:1:0"))
        conn.execute(update(schema.open_batches).values(owner="gone:1:0"))
    new, taken = ledger.take_over(engine, batch)
    assert sorted(taken) == sorted(ids) and _open_batches(engine) == {new}
    assert ledger.uncertain_batches(engine) == []  # ours now, and we are alive
    occurrence = schema.ledger.c.supporter_id.in_(taken[:-1])
    with engine.begin() as conn:  # the provider reports all but one delivered
        ledger.confirm(conn, occurrence, NOW)
    assert _open_batches(engine) == {new}
    with engine.begin() as conn:
        ledger.confirm(conn, schema.ledger.c.supporter_id == taken[-1], NOW)
    assert _open_batches(engine) == set()
    assert ledger.counts_by_reminder(engine)[("c", "r", "email")] == {"sent": len(ids)}


def test_stored_secret_is_made_once(database_url: str) -> None:
    engine = open_database(database_url)
    assert stored_secret(engine, "k") == stored_secret(engine, "k")
    assert len(stored_secret(engine, "k")) > 30


def test_postgresql_sessions_plan_short_queries_plainly(database_url: str) -> None:
    """A chunk's query is estimated dear enough for JIT and parallel workers; both cost
    several times the query itself (`store/db.py`)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL settings")
    engine = _engine(database_url)
    with engine.connect() as conn:
        settings = [conn.execute(text(f"SHOW {name}")).scalar() for name in ("jit", _PARALLEL)]
    assert settings == ["off", "0"]


_PARALLEL = "max_parallel_workers_per_gather"
