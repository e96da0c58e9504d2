"""The consent rule, once: whether a supporter's consent still allows email on a day, as a
pure function (the export) and as the same rule in SQL (the audience: dispatch, `plan`,
`status`), side by side so they cannot drift apart.

Express consent never lapses. Implied consent lasts two years (CASL): given on day D, it
has lapsed on the same day two years later (February 29 then: on March 1). Implied
consent without a date has lapsed.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import ColumnElement, and_, or_

from outreach.store.schema import supporters

EXPRESS = "express"
IMPLIED = "implied"
CONSENTS = (EXPRESS, IMPLIED)
"""The values of `supporters.consent` (a CHECK constraint keeps them so)."""


def lapse_cutoff(day: date) -> date:
    """Implied consent given on or before this day has lapsed on `day`."""
    try:
        return day.replace(year=day.year - 2)
    except ValueError:  # February 29: consent of February 29 lapses on March 1
        return day.replace(year=day.year - 2, day=28)


def consent_lapsed(consent: str, consent_date: date | None, day: date) -> bool:
    """Whether this consent no longer allows email on `day`."""
    if consent != IMPLIED:
        return False
    return consent_date is None or consent_date <= lapse_cutoff(day)


def lapsed_sql(cutoff: date | ColumnElement[date]) -> ColumnElement[bool]:
    """`consent_lapsed` in SQL, given `lapse_cutoff` of the day (a date, or per row)."""
    return and_(
        supporters.c.consent == IMPLIED,
        or_(supporters.c.consent_date.is_(None), supporters.c.consent_date <= cutoff),
    )
