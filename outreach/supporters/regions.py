"""Canadian provinces and territories, and the time zone most of their people live in."""

from __future__ import annotations

ZONES: dict[str, str] = {
    "NL": "America/St_Johns",
    "PE": "America/Halifax",
    "NS": "America/Halifax",
    "NB": "America/Moncton",
    "QC": "America/Toronto",
    "ON": "America/Toronto",
    "MB": "America/Winnipeg",
    "SK": "America/Regina",
    "AB": "America/Edmonton",
    "BC": "America/Vancouver",
    "YT": "America/Whitehorse",
    "NT": "America/Yellowknife",
    "NU": "America/Iqaluit",
}

_CANADA = frozenset({"", "ca", "can", "canada"})


def timezone_for_region(region: str) -> str | None:
    """The IANA zone of a province or territory code (`NL` → America/St_Johns), else None."""
    return ZONES.get(region.strip().upper())


def in_canada(country: str) -> bool:
    """Whether a country value means Canada; blank counts, since most supporters live there."""
    return country.strip().casefold() in _CANADA
