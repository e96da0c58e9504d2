"""Localized dates for templates: "March 15, 2018" in English, "15 mars 2018" in French."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date


@lru_cache(maxsize=4096)
def format_local_date(value: date, language: str, format: str = "long") -> str:
    """`value` in `language`: Babel's `short`, `medium`, `long`, `full` format or a pattern."""
    if not isinstance(value, date):
        raise TypeError(f"the date filter needs a date, not {value!r}")
    try:
        locale = Locale.parse(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError) as exc:
        raise ValueError(f"no date format for language {language!r}") from exc
    return format_date(value, format=format, locale=locale)
