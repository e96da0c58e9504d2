"""Supporter CSV export: every column import reads (custom ones too), safe to open.

Export then import changes nothing: the standard columns, then the status columns import
ignores, then every custom `fields` column, each cell neutralized against CSV injection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from outreach.supporters.consent import consent_lapsed
from outreach.supporters.csvfile import EXPORT_COLUMNS
from outreach.supporters.spreadsheet import neutralize


def export_header(custom: Iterable[str]) -> list[str]:
    """The standard and status columns, then the custom ones in name order."""
    return [*EXPORT_COLUMNS, *sorted(set(custom) - set(EXPORT_COLUMNS))]


def status(row: Mapping[str, Any], today: date) -> str:
    """`suppressed`, `lapsed` or `active`."""
    if row["suppression_reason"]:
        return "suppressed"
    if consent_lapsed(row["consent"], row["consent_date"], today):
        return "lapsed"
    return "active"


def export_cells(
    row: Mapping[str, Any], fields: Mapping[str, str], header: Sequence[str], today: date
) -> list[str]:
    """One supporter's CSV cells, in `header` order, neutralized."""
    consent_date: date | None = row["consent_date"]
    suppressed_at: datetime | None = row["suppressed_at"]
    values: dict[str, Any] = {
        **fields,
        **{name: row.get(name) for name in EXPORT_COLUMNS if name in row},
        "tags": str(row["tags"]).strip(";"),
        "timezone": row["timezone"] or "",
        "consent_date": consent_date.isoformat() if consent_date else "",
        "status": status(row, today),
        "suppression_reason": row["suppression_reason"] or "",
        "suppressed_at": suppressed_at.isoformat() if suppressed_at else "",
    }
    return [neutralize(str(values.get(name) or "")) for name in header]
