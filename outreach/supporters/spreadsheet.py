"""CSV cells safe to open in a spreadsheet (OWASP "CSV injection"), and back.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return would be read as a
formula by Excel or LibreOffice: export prefixes it with a single quote, which spreadsheets
show as text. Import removes exactly that quote. Cells that already start with quotes before
such a character get one more, so that `restore(neutralize(v)) == v` for every value.
"""

from __future__ import annotations

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def _armed(value: str) -> bool:
    """Whether the value, without its leading quotes, starts like a formula."""
    return value.lstrip(QUOTE).startswith(TRIGGERS)


def neutralize(value: str) -> str:
    """The cell as export writes it: a formula-like value gets a leading quote."""
    return QUOTE + value if _armed(value) else value


def restore(value: str) -> str:
    """The value `neutralize` was given (cells it did not change are kept as they are)."""
    if value.startswith(QUOTE) and _armed(value):
        return value[1:]
    return value
