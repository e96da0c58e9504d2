"""Database errors are told in one line that quotes no SQL, parameters or values."""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import IntegrityError, OperationalError

from outreach.store.db import describe_error, is_locked

PARAMS = ("émilie@example.org", "Émilie")


def test_a_locked_database_gets_one_plain_line() -> None:
    exc = OperationalError(
        "UPDATE ledger SET …", PARAMS, sqlite3.OperationalError("database is locked")
    )
    assert is_locked(exc)
    assert describe_error(exc) == (
        "the database is locked by another outreach process; try again when it is done"
    )


def test_a_refused_change_names_no_value() -> None:
    orig = Exception(
        "duplicate key value violates unique constraint\n"
        "DETAIL: Key (address_key)=(émilie@example.org) already exists."
    )
    message = describe_error(IntegrityError("INSERT INTO supporters …", PARAMS, orig))
    assert "émilie" not in message and "INSERT" not in message and "\n" not in message
