"""Supporter CSV parsing: normalization, rejections with their line numbers, consent."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from outreach.errors import OutreachError
from outreach.supporters.consent import consent_lapsed
from outreach.supporters.csvfile import (
    EXPORT_COLUMNS,
    RejectedRow,
    SupporterRecord,
    format_tags,
    parse_supporters,
)
from outreach.supporters.regions import ZONES, timezone_for_region

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "supporters.csv"


def parse(text: str) -> list[SupporterRecord | RejectedRow]:
    return list(parse_supporters(io.StringIO(text, newline=""), "people.csv"))


def records(text: str) -> list[SupporterRecord]:
    results = parse(text)
    assert all(isinstance(r, SupporterRecord) for r in results), results
    return [r for r in results if isinstance(r, SupporterRecord)]


def one(text: str) -> SupporterRecord:
    (record,) = records(text)
    return record


def rejected(text: str) -> list[RejectedRow]:
    return [r for r in parse(text) if isinstance(r, RejectedRow)]


def test_byte_order_mark_and_header_case_are_ignored() -> None:
    record = one("\ufeff Email ,First Name,LAST_NAME\nana@example.org,Ana,Silva\n")
    assert (record.email, record.first_name, record.last_name) == (
        "ana@example.org",
        "Ana",
        "Silva",
    )


def test_email_is_trimmed_and_its_domain_lower_cased() -> None:
    assert one("email\n  Bob.Smith@EXAMPLE.Org \n").email == "Bob.Smith@example.org"


def test_later_duplicates_are_rejected_naming_the_first_line() -> None:
    results = parse("email\nana@example.org\nbob@example.org\nANA@Example.org\n")
    assert [r.email for r in results if isinstance(r, SupporterRecord)] == [
        "ana@example.org",
        "bob@example.org",
    ]
    assert [r for r in results if isinstance(r, RejectedRow)] == [
        RejectedRow(4, "duplicate of line 2")
    ]


def test_invalid_email_is_rejected_with_its_line() -> None:
    (row,) = rejected("email,city\nana@example.org,Laval\nbob@,Laval\n")
    assert row.line == 3
    assert row.reason.startswith("invalid email 'bob@'")


def test_line_numbers_count_quoted_multi_line_fields_and_blank_lines() -> None:
    text = 'email,city\nana@example.org,"Saint-Jean\nsur-Richelieu\n"\n\nbob@,Laval\n'
    results = parse(text)
    assert isinstance(results[0], SupporterRecord)
    assert results[0].city == "Saint-Jean sur-Richelieu"
    assert isinstance(results[1], RejectedRow)
    assert results[1].line == 6


def test_a_rejected_multi_line_row_is_reported_at_its_first_line() -> None:
    assert rejected('email,city\nbob@,"Saint-Jean\nsur-Richelieu"\n')[0].line == 2


def test_missing_email_is_rejected() -> None:
    assert rejected("email,city\n ,Laval\n") == [RejectedRow(2, "no email")]


def test_rows_of_blank_values_are_skipped() -> None:
    assert parse("email,city\n,\n  ,  \n") == []


def test_missing_email_column_is_an_error_naming_the_file() -> None:
    with pytest.raises(OutreachError, match=r"^people\.csv:1: no 'email' column$"):
        parse("mail,city\nana@example.org,Laval\n")


def test_empty_file_is_an_error() -> None:
    with pytest.raises(OutreachError, match=r"^people\.csv:1: "):
        parse("")


def test_repeated_column_is_an_error() -> None:
    with pytest.raises(OutreachError, match="column 'email' appears more than once"):
        parse("email,Email\na@example.org,b@example.org\n")


def test_region_gives_the_time_zone() -> None:
    rows = records("email,region\nsio@example.org,nl\nkyle@example.org, SK \nx@example.org,\n")
    assert [(r.region, r.timezone) for r in rows] == [
        ("NL", "America/St_Johns"),
        ("SK", "America/Regina"),
        ("", None),
    ]


def test_region_outside_canada_gives_no_time_zone() -> None:
    assert one("email,region,country\nluz@example.org,BC,MX\n").timezone is None
    assert one("email,region,country\nana@example.org,BC,Canada\n").timezone == (
        "America/Vancouver"
    )


def test_explicit_time_zone_wins_over_region() -> None:
    text = "email,region,timezone\nkai@example.org,BC,america/dawson_creek\n"
    assert one(text).timezone == "America/Dawson_Creek"


def test_unknown_time_zone_is_rejected() -> None:
    assert rejected("email,timezone\nana@example.org,Mars/Base\n") == [
        RejectedRow(2, "unknown time zone 'Mars/Base'")
    ]


def test_every_region_maps_to_a_zone() -> None:
    assert len(ZONES) == 13
    assert timezone_for_region(" ns ") == "America/Halifax"
    assert timezone_for_region("NY") is None


def test_language_keeps_the_lowercase_primary_subtag() -> None:
    rows = records("email,language\na@example.org,fr-CA\nb@example.org,FR\nc@example.org,\n")
    assert [r.language for r in rows] == ["fr", "fr", ""]


def test_invalid_language_is_rejected() -> None:
    (row,) = rejected("email,language\na@example.org,français\n")
    assert row.reason.startswith("invalid language 'français'")


def test_tags_are_split_trimmed_and_deduplicated() -> None:
    record = one('email,tags\na@example.org," Refugees ; mexico;;refugees;NAFTA"\n')
    assert record.tags == ("Refugees", "mexico", "NAFTA")
    assert format_tags(record.tags) == "Refugees;mexico;NAFTA"


def test_a_blank_consent_is_none_and_the_source_defaults_to_the_import() -> None:
    record = one("email,consent\na@example.org,\n")
    assert (record.consent, record.consent_date, record.consent_source) == (
        None,
        None,
        "import:people.csv",
    )


def test_consent_is_read_case_insensitively() -> None:
    text = "email,consent,consent_date,consent_source\na@example.org,IMPLIED,2017-09-10,event:x\n"
    record = one(text)
    assert (record.consent, record.consent_date, record.consent_source) == (
        "implied",
        date(2017, 9, 10),
        "event:x",
    )


@pytest.mark.parametrize(
    ("consent", "consent_date", "reason"),
    [
        ("implied", "", "implied consent needs a consent_date"),
        ("opt-in", "", "invalid consent 'opt-in' (expected express or implied)"),
        ("express", "10/09/2017", "invalid consent_date '10/09/2017' (expected YYYY-MM-DD)"),
        ("implied", "2017-02-30", "invalid consent_date '2017-02-30' (expected YYYY-MM-DD)"),
    ],
)
def test_bad_consent_is_rejected(consent: str, consent_date: str, reason: str) -> None:
    text = f"email,consent,consent_date\na@example.org,{consent},{consent_date}\n"
    assert rejected(text) == [RejectedRow(2, reason)]


@pytest.mark.parametrize(
    ("given", "today", "lapsed"),
    [
        (date(2015, 6, 1), date(2017, 5, 31), False),
        (date(2015, 6, 1), date(2017, 6, 1), True),
        (date(2016, 2, 29), date(2018, 2, 28), False),
        (date(2016, 2, 29), date(2018, 3, 1), True),
    ],
)
def test_implied_consent_lapses_after_two_years(given: date, today: date, lapsed: bool) -> None:
    assert consent_lapsed("implied", given, today) is lapsed


def test_express_consent_never_lapses_and_undated_implied_consent_has() -> None:
    assert not consent_lapsed("express", date(2000, 1, 1), date(2018, 3, 1))
    assert consent_lapsed("implied", None, date(2018, 3, 1))


def test_line_breaks_and_control_characters_are_removed_from_text() -> None:
    text = 'email,first_name,city\na@example.org,"Eve\r\nBcc: x@evil.example","Lav\x00al\x1b"\n'
    record = one(text)
    assert record.first_name == "Eve Bcc: x@evil.example"
    assert record.city == "Laval"


def test_text_is_otherwise_kept_as_given() -> None:
    assert one('email,last_name\na@example.org,"<b>O\'Brien & Côté</b>"\n').last_name == (
        "<b>O'Brien & Côté</b>"
    )


def test_extra_columns_become_fields_without_blanks_or_export_status() -> None:
    text = (
        "email,Member Since,chapter,status,suppressed_at\n"
        "a@example.org,2009-04-12,,unsubscribed,2018-01-01\n"
    )
    assert one(text).fields == {"member_since": "2009-04-12"}


def test_export_columns_can_be_imported_again() -> None:
    header = ",".join(EXPORT_COLUMNS)
    values = "a@example.org,,,,ON,,CA,fr,,refugees,express,2017-01-01,web,active,,"
    record = one(f"{header}\n{values}\n")
    assert (record.timezone, record.fields) == ("America/Toronto", {})


def test_extra_values_beyond_the_header_are_rejected_unless_blank() -> None:
    results = parse("email,city\na@example.org,Laval,,\nb@example.org,Laval,oops\n")
    assert isinstance(results[0], SupporterRecord)
    assert results[1] == RejectedRow(3, "3 values but the header has 2 columns")


def test_unreadable_row_is_rejected_and_reading_goes_on() -> None:
    text = f'email,city\na@example.org,"{"x" * 200_000}"\nb@example.org,Laval\n'
    results = parse(text)
    assert isinstance(results[0], RejectedRow)
    assert results[0].line == 2
    assert isinstance(results[1], SupporterRecord)


def test_rows_are_read_one_at_a_time() -> None:
    def lines() -> Iterator[str]:
        yield "email\n"
        yield "a@example.org\n"
        raise AssertionError("read past the first row")

    first = next(parse_supporters(lines(), "people.csv"))
    assert isinstance(first, SupporterRecord)


def test_example_file_parses_cleanly_and_covers_every_region() -> None:
    with EXAMPLE.open(encoding="utf-8", newline="") as file:
        results = list(parse_supporters(file, "supporters.csv"))
    people = [r for r in results if isinstance(r, SupporterRecord)]
    assert len(people) == len(results) >= 45
    assert {p.region for p in people} == set(ZONES)
    assert all(p.email.endswith("@example.org") for p in people)
    french = sum(p.language == "fr" for p in people)
    assert 0.3 <= french / len(people) <= 0.5
    assert any(p.language == "es" for p in people)
    assert any(p.timezone not in (None, ZONES[p.region]) for p in people)
    assert any("member_since" in p.fields for p in people)
    march_2018 = date(2018, 3, 1)
    implied = [p for p in people if p.consent == "implied"]
    lapsed = [p for p in implied if consent_lapsed(p.consent, p.consent_date, march_2018)]
    assert len(lapsed) == 1 < len(implied)
    assert {"refugees", "mexico", "nafta"} <= {tag for p in people for tag in p.tags}
