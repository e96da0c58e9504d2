"""Supporter CSV import: each row becomes a normalized record or a rejection with its line."""

from __future__ import annotations

import csv
import functools
import re
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date

from email_validator import EmailNotValidError, validate_email

from outreach.errors import OutreachError
from outreach.supporters.addresses import KEY_LENGTH, address_key
from outreach.supporters.regions import in_canada, timezone_for_region
from outreach.supporters.spreadsheet import restore

COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "city",
    "region",
    "postal_code",
    "country",
    "language",
    "timezone",
    "tags",
    "consent",
    "consent_date",
    "consent_source",
)
# Written by `supporters export` only; ignored on import so an export can be re-imported.
STATUS_COLUMNS = ("status", "suppression_reason", "suppressed_at")
EXPORT_COLUMNS = COLUMNS + STATUS_COLUMNS
LIMITS = {
    "email": 320,
    "first_name": 200,
    "last_name": 200,
    "city": 200,
    "region": 20,
    "postal_code": 20,
    "country": 100,
    "language": 10,
    "timezone": 64,
    "consent_source": 200,
}
"""The longest value of each column, in characters: the schema declares the same lengths,
and import checks them on every engine (SQLite would store anything, PostgreSQL refuse)."""

_BREAKS = re.compile(r"[\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]+")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Control characters, and the bidi controls that can make a name display as another."""
_SEPARATORS = re.compile(r"[\s\-]+")
_LANGUAGE = re.compile(r"[a-z]{2,3}")


@dataclass(frozen=True)
class SupporterRecord:
    """One supporter as read from a CSV row, normalized and ready to store."""

    email: str
    key: str  # addresses.address_key(email): one supporter per key
    first_name: str
    last_name: str
    city: str
    region: str
    postal_code: str
    country: str
    language: str
    timezone: str | None  # None: use the schedule's default zone
    tags: tuple[str, ...]
    consent: str | None  # "express", "implied", or None when the row does not say
    consent_date: date | None
    consent_source: str
    fields: dict[str, str]  # the custom columns' non-blank values
    columns: frozenset[str] = frozenset(COLUMNS)  # every column the file has
    line: int = 0  # where the row starts in its file
    given_timezone: str | None = None  # the zone the row names, None when blank

    def has(self, column: str) -> bool:
        """Whether the file has this column (a blank in it clears the stored value)."""
        return column in self.columns


@dataclass(frozen=True)
class RejectedRow:
    """A row that was skipped, with the file line it starts on (the header is line 1)."""

    line: int
    reason: str


class _Invalid(ValueError):
    """A value in a row that makes the whole row unusable."""


def parse_supporters(lines: Iterable[str], source: str) -> Iterator[SupporterRecord | RejectedRow]:
    """Read supporter rows one at a time from CSV text lines (open files with `newline=""`).

    A leading byte order mark is ignored; column names ignore case, spaces and hyphens.
    Raises OutreachError when the header has no `email` column. The first row of an address
    wins; later rows with the same address key are rejected. Cells neutralized by an export
    (`spreadsheet.neutralize`) are restored.
    """
    reader = csv.reader(lines)
    names = _header(reader, source)
    columns = frozenset(name for name in names if name is not None)
    seen: dict[str, int] = {}
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RejectedRow(line, f"unreadable CSV row: {exc}")
            continue
        if not any(value.strip() for value in row):
            continue
        try:
            record = _record(_values(names, row), source, columns, line)
        except _Invalid as exc:
            yield RejectedRow(line, str(exc))
            continue
        first = seen.setdefault(record.key, line)
        yield record if first == line else RejectedRow(line, f"duplicate of line {first}")


def format_tags(tags: Iterable[str]) -> str:
    """Tags as one CSV value, the way import reads them."""
    return ";".join(tags)


def clean_text(value: str) -> str:
    """Text with line breaks turned into spaces and control characters removed, trimmed."""
    return _CONTROLS.sub("", _BREAKS.sub(" ", value)).strip()


def _header(reader: Iterator[list[str]], source: str) -> list[str | None]:
    """Normalized column names (None for unnamed columns), checked for `email` and repeats
    in one pass (a header may have very many columns)."""
    try:
        header = next(reader, [])
    except csv.Error as exc:
        raise OutreachError(f"{source}:1: unreadable header: {exc}") from exc
    if header:
        header[0] = header[0].removeprefix("\ufeff")
    names = [_SEPARATORS.sub("_", name.strip().lower()) or None for name in header]
    given: set[str] = set()
    for name in names:
        if name is not None and name in given:
            raise OutreachError(f"{source}:1: column {_show(name)} appears more than once")
        given.add(name or "")
    if "email" not in names:
        raise OutreachError(f"{source}:1: no 'email' column")
    return names


def _values(names: list[str | None], row: list[str]) -> dict[str, str]:
    """The row's values by column name; extra trailing values must be blank."""
    if any(value.strip() for value in row[len(names) :]):
        raise _Invalid(f"{len(row)} values but the header has {len(names)} columns")
    return {
        name: restore(value) for name, value in zip(names, row, strict=False) if name is not None
    }


def _record(
    values: Mapping[str, str], source: str, columns: frozenset[str], line: int
) -> SupporterRecord:
    """Validate and normalize one row's values."""
    text = {name: clean_text(values.get(name, "")) for name in COLUMNS}
    for name, limit in LIMITS.items():
        if len(text[name]) > limit:
            raise _Invalid(f"{name} is longer than {limit} characters")
    email = _email(values.get("email", "").strip())
    key = address_key(email)
    if len(key) > KEY_LENGTH:
        raise _Invalid(f"email is longer than {KEY_LENGTH} characters")
    language = _language(text["language"])
    region = text["region"].upper()
    zone = given_zone = _zone(text["timezone"])
    if zone is None and in_canada(text["country"]):
        zone = timezone_for_region(region)
    consent = _consent(text["consent"])
    consent_date = _date(text["consent_date"])
    if consent == "implied" and consent_date is None:
        raise _Invalid("implied consent needs a consent_date")
    extra = {n: clean_text(value) for n, value in values.items() if n not in EXPORT_COLUMNS}
    return SupporterRecord(
        email=email,
        key=key,
        first_name=text["first_name"],
        last_name=text["last_name"],
        city=text["city"],
        region=region,
        postal_code=text["postal_code"],
        country=text["country"],
        language=language,
        timezone=zone,
        tags=_tags(values.get("tags", "")),
        consent=consent,
        consent_date=consent_date,
        consent_source=text["consent_source"] or f"import:{source}"[: LIMITS["consent_source"]],
        fields={name: value for name, value in extra.items() if value},
        columns=columns,
        line=line,
        given_timezone=given_zone,
    )


def _email(raw: str) -> str:
    """The address with its domain lower-cased and its local part as given."""
    if not raw:
        raise _Invalid("no email")
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise _Invalid(f"invalid email {_show(raw)}: {exc}") from exc


def _language(raw: str) -> str:
    """The lowercase primary language subtag (`fr-CA` → `fr`), or "" for the fallback."""
    primary = re.split(r"[-_]", raw, maxsplit=1)[0].lower()
    if primary and not _LANGUAGE.fullmatch(primary):
        raise _Invalid(f"invalid language {_show(raw)} (expected a code such as en or fr)")
    return primary


def _zone(raw: str) -> str | None:
    """The IANA zone named (any letter case), None when blank."""
    if not raw:
        return None
    zone = _zone_names().get(raw.casefold())
    if zone is None:
        raise _Invalid(f"unknown time zone {_show(raw)}")
    return zone


@functools.cache
def _zone_names() -> dict[str, str]:
    """Every known IANA zone name, by its case-folded spelling."""
    return {name.casefold(): name for name in zoneinfo.available_timezones()}


def _consent(raw: str) -> str | None:
    """`express`, `implied`, or None when blank."""
    consent = raw.lower()
    if not consent:
        return None
    if consent not in ("express", "implied"):
        raise _Invalid(f"invalid consent {_show(raw)} (expected express or implied)")
    return consent


def _date(raw: str) -> date | None:
    """An ISO date, None when blank."""
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise _Invalid(f"invalid consent_date {_show(raw)} (expected YYYY-MM-DD)") from exc


def _tags(raw: str) -> tuple[str, ...]:
    """The `;`-separated tags, trimmed, without blanks or repeats (ignoring case)."""
    tags: dict[str, str] = {}
    for part in raw.split(";"):
        tag = clean_text(part)
        if tag:
            tags.setdefault(tag.casefold(), tag)
    return tuple(tags.values())


def _show(value: str) -> str:
    """A user's value quoted for a one-line message, shortened when long."""
    return repr(value if len(value) <= 60 else value[:57] + "...")
