"""Opening the database: engine, SQLite pragmas, the schema made or checked on first use."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
)

from outreach.errors import OutreachError
from outreach.privacy import create_private
from outreach.store.schema import settings
from outreach.store.versions import ensure_current


def open_database(url: str) -> Engine:
    """An engine for `url` with the schema at the head revision (made in a fresh database);
    a clear one-line error if it cannot connect or its schema needs `outreach db upgrade`."""
    engine = connect(url)
    try:
        ensure_current(engine)
    except OperationalError as exc:
        problem = describe_error(exc) if is_locked(exc) else exc.orig
        raise OutreachError(f"cannot open the database: {problem}") from None
    return engine


def connect(url: str) -> Engine:
    """An engine for `url`, its schema as it is.

    SQL parameters (supporters' data) never appear in errors or logs; a new SQLite file is
    made readable by its owner only, and SQLite gives its -wal and -shm files the same mode.
    """
    try:
        engine = create_engine(url, future=True, hide_parameters=True)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise OutreachError(
            f"OUTREACH_DATABASE_URL is not a database URL outreach can use: {exc}"
        ) from None
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            try:
                create_private(Path(database))
            except OSError as exc:
                raise OutreachError(
                    f"cannot open the database {database}: {exc.strerror}"
                ) from None
        event.listen(engine, "connect", _sqlite_pragmas)
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgresql_settings)
    return engine


def is_locked(exc: DBAPIError) -> bool:
    """Whether SQLite gave up waiting for another process's lock."""
    return "is locked" in str(exc.orig).lower()


def describe_error(exc: DBAPIError) -> str:
    """One line about a database error, without its SQL, parameters or the values the
    database quotes (they hold supporters' data)."""
    if is_locked(exc):
        return "the database is locked by another outreach process; try again when it is done"
    if isinstance(exc, IntegrityError):
        return "the database refused a change that breaks one of its rules (a constraint)"
    if isinstance(exc, OperationalError):
        return "the database cannot be used right now (connection or server trouble)"
    return f"database error ({type(exc.orig or exc).__name__})"


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """WAL lets readers and a writer work at once; the timeout lets two workers queue."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _postgresql_settings(connection: Any, _record: Any) -> None:
    """Neither parallel query nor JIT: outreach reads in short keyset chunks (1,000 rows by
    index), where starting parallel workers costs several times the query itself (29 ms
    against 5 ms per chunk of 400,000 supporters, `bench/README.md`) and takes the cores the
    worker needs, and where compiling the chunk's query (its estimate passes `jit_above_cost`)
    took 16 ms of the server's CPU against 3 ms to run it."""
    cursor = connection.cursor()
    cursor.execute("SET max_parallel_workers_per_gather = 0")
    cursor.execute("SET jit = off")
    cursor.close()
    connection.commit()


def stored_secret(engine: Engine, name: str) -> str:
    """A random secret kept in the database, made on first use (for the outbox default)."""
    with engine.begin() as conn:
        value = conn.execute(select(settings.c.value).where(settings.c.key == name)).scalar()
        if value is not None:
            return str(value)
    try:
        with engine.begin() as conn:
            conn.execute(settings.insert().values(key=name, value=secrets.token_urlsafe(32)))
    except IntegrityError:
        pass  # another process made it first
    with engine.begin() as conn:
        return str(conn.execute(select(settings.c.value).where(settings.c.key == name)).scalar())
