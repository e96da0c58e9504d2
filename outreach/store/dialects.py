"""What only a database's own dialect writes: an INSERT that says what to do ON CONFLICT,
and PostgreSQL's integer arrays.

PostgreSQL's dialect is imported on first use: its import takes 40 ms, which a run on SQLite
need not pay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Integer, Table
from sqlalchemy.dialects import sqlite

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql


def conflict_insert(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """`table`'s INSERT in `dialect` (a dialect's name), with its ON CONFLICT clauses."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"outreach does not support {dialect} databases")


def integer_array() -> postgresql.ARRAY[int]:
    """PostgreSQL's `integer[]`, for a list of ids bound as one parameter."""
    from sqlalchemy.dialects import postgresql

    return postgresql.ARRAY(Integer)
