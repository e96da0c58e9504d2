"""A re-import touches only what its file says, consent is never raised by a blank, exports
round-trip; the same on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete

from outreach.campaign.model import Audience
from outreach.cli.supporters import write_export
from outreach.store.audience import Selection, count_audience
from outreach.store.db import open_database
from outreach.store.people import ImportReport, export_rows, import_supporters, suppress
from outreach.store.schema import supporters, suppressions
from outreach.supporters.csvfile import parse_supporters

NOW = datetime(2018, 3, 1, 14, 0, tzinfo=UTC)
TODAY = date(2018, 3, 1)
FIRST = (
    "email,first_name,last_name,city,region,timezone,tags,consent,consent_date,member_since\n"
    "ana@example.org,Ana,Silva,Halifax,NS,,refugees,implied,2015-06-01,2009\n"
    "bo@example.org,Bo,Li,Dawson Creek,BC,America/Dawson_Creek,,express,2017-01-01,\n"
)


def _import(engine: Engine, text: str, *, dry_run: bool = False) -> ImportReport:
    rows = parse_supporters(io.StringIO(text, newline=""), "t.csv")
    return import_supporters(engine, rows, NOW, dry_run=dry_run)


def _stored(engine: Engine) -> dict[str, dict[str, Any]]:
    skip = {"updated_at", "id", "created_at"}
    return {
        row["email"]: {k: v for k, v in row.items() if k not in skip} for row in export_rows(engine)
    }


def _lapsed(engine: Engine, tags: tuple[str, ...] = ()) -> tuple[int, int, int]:
    selection = Selection(Audience(tags=tags), ("en", "fr"), "America/Toronto")
    with engine.connect() as conn:
        counts = count_audience(conn, selection, TODAY)
    return counts.reachable, counts.suppressed, counts.lapsed


def test_a_tag_only_import_keeps_everything_else(database_url: str) -> None:
    engine = open_database(database_url)
    _import(engine, FIRST)
    before = _stored(engine)
    assert _lapsed(engine) == (1, 0, 1)
    report = _import(engine, "email,tags\nANA@example.org,refugees;mexico\nbo@example.org,\n")
    assert (report.imported, report.updated, report.unchanged) == (0, 1, 1)
    after = _stored(engine)
    assert after["ana@example.org"] == before["ana@example.org"] | {"tags": ";refugees;mexico;"}
    assert after["bo@example.org"] == before["bo@example.org"]
    assert _lapsed(engine) == (1, 0, 1)  # Ana's implied consent stays lapsed


def test_a_blank_cell_clears_only_its_column(database_url: str) -> None:
    engine = open_database(database_url)
    _import(engine, FIRST)
    before = _stored(engine)["ana@example.org"]
    _import(engine, "email,city,member_since,consent,consent_date\nana@example.org,,,,\n")
    after = _stored(engine)["ana@example.org"]
    assert after == before | {"city": "", "fields": "{}"}


def test_consent_is_raised_only_by_an_explicit_value_with_its_date(database_url: str) -> None:
    engine = open_database(database_url)
    _import(engine, FIRST)
    report = _import(engine, "email,consent\nana@example.org,express\n")
    assert [(r.line, r.reason) for r in report.rejected] == [
        (2, "express consent needs its consent_date to replace implied consent")
    ]
    assert _lapsed(engine) == (1, 0, 1)
    _import(engine, "email,consent,consent_date\nana@example.org,express,2018-02-01\n")
    assert _lapsed(engine) == (2, 0, 0)


def test_an_import_never_changes_a_suppressed_supporters_consent(database_url: str) -> None:
    engine = open_database(database_url)
    _import(engine, FIRST)
    suppress(engine, "Ana@Example.org", "unsubscribe", "", NOW)
    report = _import(engine, "email,consent,consent_date\nana@example.org,express,2018-02-01\n")
    assert report.unchanged == 1
    assert _stored(engine)["ana@example.org"]["consent"] == "implied"
    assert _lapsed(engine) == (1, 1, 0)


def test_a_dry_run_reports_and_writes_nothing(database_url: str) -> None:
    engine = open_database(database_url)
    _import(engine, FIRST)
    before = _stored(engine)
    text = "email,city\nana@example.org,Truro\nbo@example.org,Dawson Creek\nnew@example.org,X\n"
    report = _import(engine, text, dry_run=True)
    assert (report.imported, report.updated, report.unchanged) == (1, 1, 1)
    assert _stored(engine) == before


def test_an_over_long_value_is_rejected_with_its_line(database_url: str) -> None:
    engine = open_database(database_url)
    text = f"email,city\nana@example.org,Halifax\nbo@example.org,{'x' * 201}\n"
    report = _import(engine, text)
    assert (report.imported, [(r.line, r.reason) for r in report.rejected]) == (
        1,
        [(3, "city is longer than 200 characters")],
    )


def test_tags_match_exactly_without_wildcards(database_url: str) -> None:
    engine = open_database(database_url)
    _import(engine, "email,tags\na@example.org,100%;a_b\nb@example.org,100x;axb\nc@example.org,\n")
    assert _lapsed(engine, ("%",))[0] == 0
    assert _lapsed(engine, ("100%",))[0] == 1
    assert _lapsed(engine, ("a_b",))[0] == 1
    assert _lapsed(engine, ("_",))[0] == 0
    assert _lapsed(engine, ("100x;axb",))[0] == 0


TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12)
PERSON = st.fixed_dictionaries(
    {
        "first_name": TEXT,
        "last_name": st.sampled_from(["", "O'Brien", '=HYPERLINK("x")', "-5", "'=1"]),
        "city": TEXT,
        "region": st.sampled_from(["", "ON", "nl", "BC", "XX"]),
        "country": st.sampled_from(["", "CA", "MX"]),
        "language": st.sampled_from(["", "en", "fr-CA"]),
        "timezone": st.sampled_from(["", "europe/paris"]),
        "tags": st.lists(
            st.text(
                st.characters(exclude_categories=("Cs",), exclude_characters="\x00;"), max_size=6
            )
        ),
        "consent": st.sampled_from([("", ""), ("express", ""), ("implied", "2016-05-01")]),
        "member_since": TEXT,
        "+phone": st.sampled_from(["", "+1 613 555 0100", "@home"]),
    }
)


PERSON_COLUMNS = ("first_name", "last_name", "city", "region", "country", "language")
PERSON_COLUMNS += ("timezone", "tags", "member_since", "+phone", "consent")


def _csv(people: list[dict[str, Any]], columns: Iterable[str] = PERSON_COLUMNS) -> str:
    """The people as a supporters file with these columns (and the email)."""
    names = [n for n in PERSON_COLUMNS if n in set(columns)]
    handle = io.StringIO()
    writer = csv.writer(handle)
    header = [("consent", "consent_date") if n == "consent" else (n,) for n in names]
    writer.writerow(["email", *(name for pair in header for name in pair)])
    for n, person in enumerate(people):
        cells: list[str] = []
        for name in names:
            value = person[name]
            cells += value if name == "consent" else [";".join(value) if name == "tags" else value]
        writer.writerow([f"P{n}.É@Example.org", *cells])
    return handle.getvalue()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(PERSON, max_size=6), st.sets(st.sampled_from(PERSON_COLUMNS)))
def test_export_then_import_changes_nothing(
    database_url: str, people: list[dict[str, Any]], some: set[str]
) -> None:
    engine = open_database(database_url)
    with engine.begin() as conn:
        conn.execute(delete(supporters))
        conn.execute(delete(suppressions))
    first = _import(engine, _csv(people))
    assert first.imported + len(first.rejected) == len(people)
    if people:
        suppress(engine, "p0.é@example.org", "bounce", "", NOW)
    before = _stored(engine)
    exported = io.StringIO()
    write_export(engine, exported, TODAY)
    again = _import(engine, exported.getvalue())
    assert (again.imported, again.updated, again.rejected) == (0, 0, [])
    assert again.unchanged == len(before)
    assert _stored(engine) == before
    twice = _import(engine, _csv(people))  # the same file again changes nothing either
    assert (twice.imported, twice.updated) == (0, 0)
    part = _import(engine, _csv(people, some))  # nor some of its columns
    assert (part.imported, part.updated) == (0, 0)
    assert _stored(engine) == before
