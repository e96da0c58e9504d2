"""What importing a row does to a supporter: the columns stored for a new one, the changes
to a known one.

A re-import touches only what the file says. A column the file lacks keeps its stored value;
a blank cell in a column it has clears that column. Consent is the exception: a blank or
missing `consent` keeps the stored consent, its date and source; only an explicit value
changes them, express consent replaces implied consent only with its `consent_date`, and a
suppressed supporter's consent is never changed by an import.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from outreach.supporters.csvfile import EXPORT_COLUMNS, SupporterRecord
from outreach.supporters.regions import in_canada, timezone_for_region

PLAIN = ("first_name", "last_name", "city", "region", "postal_code", "country", "language")
"""Columns stored as the file gives them."""


class Refused(ValueError):
    """The row would change consent in a way the rules do not allow."""


def stored_tags(tags: Iterable[str]) -> str:
    """Tags as the store keeps them: lower-cased, as ';a;b;' (empty when none)."""
    joined = ";".join(tag.lower() for tag in tags)
    return f";{joined};" if joined else ""


def stored_fields(fields: Mapping[str, str]) -> str:
    """Custom fields as the store keeps them: JSON, keys sorted."""
    return json.dumps(dict(fields), ensure_ascii=False, sort_keys=True)


def read_fields(text: str) -> dict[str, str]:
    """The stored JSON of custom fields (parsed once for every supporter with the same)."""
    return dict(_parsed_fields(text)) if text not in ("", "{}") else {}


@lru_cache(maxsize=4096)
def _parsed_fields(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in json.loads(text).items())


def new_supporter(record: SupporterRecord) -> dict[str, Any]:
    """Every stored column of a supporter first seen in this row."""
    values: dict[str, Any] = {name: getattr(record, name) for name in PLAIN}
    return values | {
        "email": record.email,
        "address_key": record.key,
        "timezone": record.timezone,
        "tags": stored_tags(record.tags),
        "consent": record.consent or "express",
        "consent_date": record.consent_date,
        "consent_source": record.consent_source,
        "fields": stored_fields(record.fields),
    }


def changes(stored: Mapping[str, Any], record: SupporterRecord, suppressed: bool) -> dict[str, Any]:
    """The columns this row changes for a known supporter (empty: nothing); Refused."""
    wanted: dict[str, Any] = {name: getattr(record, name) for name in PLAIN if record.has(name)}
    wanted["timezone"] = _timezone(stored, record, wanted)
    if record.has("tags"):
        wanted["tags"] = stored_tags(record.tags)
    custom = [name for name in record.columns if name not in EXPORT_COLUMNS]
    if custom:
        fields = read_fields(str(stored["fields"]))
        for name in custom:
            if name in record.fields:
                fields[name] = record.fields[name]
            else:
                fields.pop(name, None)
        if fields != read_fields(str(stored["fields"])):
            wanted["fields"] = stored_fields(fields)
    if not suppressed:
        wanted |= _consent(stored, record)
    return {name: value for name, value in wanted.items() if stored[name] != value}


def _timezone(stored: Mapping[str, Any], record: SupporterRecord, wanted: Mapping[str, Any]) -> Any:
    """The zone the file names; else, when the file has a blank timezone, or a new region
    and the stored zone came from the stored region, the region's zone; else the stored one."""
    derived = _region_zone(
        wanted.get("region", stored["region"]), wanted.get("country", stored["country"])
    )
    if record.has("timezone"):
        return record.given_timezone or derived
    zone = stored["timezone"]
    if zone is not None and zone != _region_zone(stored["region"], stored["country"]):
        return zone
    return derived


def _region_zone(region: str, country: str) -> str | None:
    return timezone_for_region(region) if in_canada(country) else None


def _consent(stored: Mapping[str, Any], record: SupporterRecord) -> dict[str, Any]:
    """Consent, its date and source, when the row states consent explicitly."""
    if record.consent is None:
        return {}
    if record.consent == "express" and record.consent_date is None:
        if stored["consent"] == "express":
            return {}
        raise Refused("express consent needs its consent_date to replace implied consent")
    return {
        "consent": record.consent,
        "consent_date": record.consent_date,
        "consent_source": record.consent_source,
    }
