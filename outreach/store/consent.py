"""The consent rule of `outreach.supporters.consent` in SQL, for the audience (dispatch,
`plan`, `status`): the same cutoff, so the export and the sends cannot disagree."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ColumnElement, and_, or_

from outreach.store.schema import supporters
from outreach.supporters.consent import IMPLIED


def lapsed_sql(cutoff: date | ColumnElement[date]) -> ColumnElement[bool]:
    """`consent_lapsed` in SQL, given `lapse_cutoff` of the day (a date, or per row)."""
    return and_(
        supporters.c.consent == IMPLIED,
        or_(supporters.c.consent_date.is_(None), supporters.c.consent_date <= cutoff),
    )
