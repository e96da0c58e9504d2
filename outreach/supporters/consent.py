"""The consent rule: whether a supporter's consent still allows email on a day.

Express consent never lapses. Implied consent lasts two years (CASL): given on day D, it
has lapsed on the same day two years later (February 29 then: on March 1). Implied
consent without a date has lapsed. `outreach.store.consent` states the same rule in SQL,
from `lapse_cutoff`, and a contract test keeps the two in agreement on every engine.
"""

from __future__ import annotations

from datetime import date

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
