"""Bounded, engine-independent validation of a supporters file."""

from __future__ import annotations

import io

import pytest

from outreach.errors import OutreachError
from outreach.supporters.csvfile import LIMITS, RejectedRow, SupporterRecord, parse_supporters


def parse(text: str) -> list[SupporterRecord | RejectedRow]:
    return list(parse_supporters(io.StringIO(text, newline=""), "people.csv"))


def test_over_long_values_are_rejected_with_their_line() -> None:
    long_name = "x" * (LIMITS["first_name"] + 1)
    results = parse(f"email,first_name\na@example.org,Ana\nb@example.org,{long_name}\n")
    assert results[1] == RejectedRow(3, "first_name is longer than 200 characters")
    fits = "x" * LIMITS["first_name"]
    assert isinstance(parse(f"email,first_name\na@example.org,{fits}\n")[0], SupporterRecord)


def test_a_huge_header_is_checked_in_one_pass() -> None:
    header = ",".join(f"c{n}" for n in range(200_000))
    with pytest.raises(OutreachError, match=r"^people\.csv:1: column 'c7' appears more than once"):
        parse(f"email,{header},c7\na@example.org\n")
    with pytest.raises(OutreachError, match="no 'email' column"):
        parse(f"{header}\n1\n")


def test_bidi_controls_are_removed_from_names_and_cities() -> None:
    row = "a@example.org,\u202eevil\u202c Ana\u200f,Mon\u2066tréal\u2069\u061c"
    text = f"email,first_name,city\n{row}\n"
    (record,) = parse(text)
    assert isinstance(record, SupporterRecord)
    assert (record.first_name, record.city) == ("evil Ana", "Montréal")


def test_import_undoes_the_exports_quote_and_keeps_other_quotes() -> None:
    text = "email,first_name,last_name,phone\n'-x@example.org,'=SUM(A1),'Brien,'+1 613\n"
    (record,) = parse(text)
    assert isinstance(record, SupporterRecord)
    assert (record.email, record.first_name, record.last_name) == (
        "-x@example.org",
        "=SUM(A1)",
        "'Brien",
    )
    assert record.fields == {"phone": "+1 613"}


def test_columns_the_file_has_are_recorded() -> None:
    (record,) = parse("email,tags,Member Since\na@example.org,x,\n")
    assert isinstance(record, SupporterRecord)
    assert record.columns == {"email", "tags", "member_since"}
    assert record.consent is None and record.fields == {}
