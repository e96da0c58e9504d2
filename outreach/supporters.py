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
from outreach.regions import in_canada, timezone_for_region

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

_BREAKS = re.compile(r"[\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]+")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SEPARATORS = re.compile(r"[\s\-]+")
_LANGUAGE = re.compile(r"[a-z]{2,3}")


@dataclass(frozen=True)
class SupporterRecord:
    """One supporter as read from a CSV row, normalized and ready to store."""

    email: str
    first_name: str
    last_name: str
    city: str
    region: str
    postal_code: str
    country: str
    language: str
    timezone: str | None  # None: use the schedule's default zone
    tags: tuple[str, ...]
    consent: str  # "express" or "implied"
    consent_date: date | None
    consent_source: str
    fields: dict[str, str]


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
    Raises OutreachError when the header has no `email` column. The first row of an email
    wins; later rows with the same email (ignoring case) are rejected.
    """
    reader = csv.reader(lines)
    names = _header(reader, source)
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
            record = _record(_values(names, row), source)
        except _Invalid as exc:
            yield RejectedRow(line, str(exc))
            continue
        first = seen.setdefault(record.email.casefold(), line)
        yield record if first == line else RejectedRow(line, f"duplicate of line {first}")


def format_tags(tags: Iterable[str]) -> str:
    """Tags as one CSV value, the way import reads them."""
    return ";".join(tags)


def clean_text(value: str) -> str:
    """Text with line breaks turned into spaces and control characters removed, trimmed."""
    return _CONTROLS.sub("", _BREAKS.sub(" ", value)).strip()


def _header(reader: Iterator[list[str]], source: str) -> list[str | None]:
    """Normalized column names (None for unnamed columns), checked for `email` and repeats."""
    try:
        header = next(reader, [])
    except csv.Error as exc:
        raise OutreachError(f"{source}:1: unreadable header: {exc}") from exc
    if header:
        header[0] = header[0].removeprefix("\ufeff")
    names = [_SEPARATORS.sub("_", name.strip().lower()) or None for name in header]
    for name in names:
        if name is not None and names.count(name) > 1:
            raise OutreachError(f"{source}:1: column '{name}' appears more than once")
    if "email" not in names:
        raise OutreachError(f"{source}:1: no 'email' column")
    return names


def _values(names: list[str | None], row: list[str]) -> dict[str, str]:
    """The row's values by column name; extra trailing values must be blank."""
    if any(value.strip() for value in row[len(names) :]):
        raise _Invalid(f"{len(row)} values but the header has {len(names)} columns")
    return {name: value for name, value in zip(names, row, strict=False) if name is not None}


def _record(values: Mapping[str, str], source: str) -> SupporterRecord:
    """Validate and normalize one row's values."""
    text = {name: clean_text(values.get(name, "")) for name in COLUMNS}
    email = _email(values.get("email", "").strip())
    language = _language(text["language"])
    region = text["region"].upper()
    zone = _zone(text["timezone"])
    if zone is None and in_canada(text["country"]):
        zone = timezone_for_region(region)
    consent = _consent(text["consent"])
    consent_date = _date(text["consent_date"])
    if consent == "implied" and consent_date is None:
        raise _Invalid("implied consent needs a consent_date")
    extra = {key: clean_text(value) for key, value in values.items() if key not in EXPORT_COLUMNS}
    return SupporterRecord(
        email=email,
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
        consent_source=text["consent_source"] or f"import:{source}",
        fields={name: value for name, value in extra.items() if value},
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


def _consent(raw: str) -> str:
    """`express` (also when blank) or `implied`."""
    consent = raw.lower() or "express"
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
