"""Who holds a ledger claim: a worker with a lease in the `workers` table.

Whether a claim's worker is alive is the database's word: each process that claims
registers a worker row (a random id) and a heartbeat thread renews its `expires_at`, by the
database's clock, every quarter of the lease (`OUTREACH_LEASE_SECONDS`, default 30). A claim
whose owner's lease has not expired is `sending`; once it has expired the claim is
`uncertain`, whatever host the worker ran on and whether its parent reaped it or not.

An expired lease is never renewed: its claims may already have been taken over. So a worker
hands a batch to a transport only while its last renewal is younger than half the lease
(`ensure_held`), and stops with `DeliveryError` otherwise: the database could not hear from
it, so it must not send what someone else may soon resend.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Connection, Engine, exists, select, text, update

from outreach.config import setting
from outreach.errors import DeliveryError
from outreach.store.schema import ledger, open_batches, workers

log = logging.getLogger("outreach.lease")

FORGET_AFTER = timedelta(days=1)
"""Expired workers with no claim left are deleted this long after their lease ended."""


def lease_seconds(environ: Mapping[str, str] | None = None) -> int:
    """OUTREACH_LEASE_SECONDS (declared and checked in `outreach.config`)."""
    return int(setting("lease_seconds", environ))


def database_now(conn: Connection) -> datetime:
    """The database's clock (SQLite lives on this host: this host's clock)."""
    if conn.dialect.name == "postgresql":
        found = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
        assert isinstance(found, datetime)
        return found.astimezone(UTC)
    return datetime.now(UTC)


def owner_alive(now: datetime) -> ColumnElement[bool]:
    """A ledger row's owner holds an unexpired lease at `now` (the database's clock)."""
    return exists().where(workers.c.id == ledger.c.owner, workers.c.expires_at > now)


class Lease:
    """This process's lease on one database, renewed by a daemon thread."""

    def __init__(self, engine: Engine, seconds: int) -> None:
        self.id = uuid.uuid4().hex
        self.host = socket.gethostname()[:255]
        self.seconds = seconds
        self._engine = engine
        self._lost: str | None = None
        self._ended = threading.Event()
        started = time.monotonic()
        with engine.begin() as conn:
            now = database_now(conn)
            conn.execute(
                workers.delete().where(
                    workers.c.expires_at < now - FORGET_AFTER,
                    ~exists().where(open_batches.c.owner == workers.c.id),
                )
            )
            conn.execute(
                workers.insert().values(
                    id=self.id,
                    host=self.host,
                    pid=os.getpid(),
                    started_at=now,
                    expires_at=now + timedelta(seconds=seconds),
                )
            )
        self._renewed = started
        thread = threading.Thread(
            target=_heartbeat, args=(weakref.ref(self), self._ended, seconds / 4), daemon=True
        )
        thread.name = f"outreach-lease-{self.id[:8]}"
        thread.start()

    def renew(self) -> None:
        """Push the expiry a lease ahead; once it has expired, the lease is lost for good."""
        started = time.monotonic()
        with self._engine.begin() as conn:
            now = database_now(conn)
            renewed = conn.execute(
                update(workers)
                .where(workers.c.id == self.id, workers.c.expires_at > now)
                .values(expires_at=now + timedelta(seconds=self.seconds))
            ).rowcount
        if renewed:
            self._renewed = started
        else:
            self._lose("its lease in the database expired before it could be renewed")

    def _lose(self, why: str) -> None:
        if self._lost is None:
            log.error("worker %s: %s; it hands no more batches over", self.id, why)
            self._lost = why
        self._ended.set()

    @property
    def lost(self) -> bool:
        """True once the lease is known lost (never held again)."""
        return self._lost is not None

    def ensure_held(self) -> None:
        """Raise `DeliveryError` unless the lease is safely held (renewed within half of it)."""
        quiet = time.monotonic() - self._renewed
        if self._lost is None and quiet > self.seconds / 2:
            self._lost = f"the database has not renewed its lease for {quiet:.0f} s"
        if self._lost is not None:
            raise DeliveryError(
                f"this worker stopped sending: {self._lost} (what it claimed stays in the "
                "ledger; see `outreach status`)"
            )

    def end(self) -> None:
        """Give the lease up now: claims left (never recorded) are uncertain at once."""
        self._ended.set()
        if self._lost is not None:
            return
        self._lost = "it gave its lease up"
        with self._engine.begin() as conn:
            now = database_now(conn)
            conn.execute(
                update(workers)
                .where(workers.c.id == self.id, workers.c.expires_at > now)
                .values(expires_at=now)
            )


def _heartbeat(lease_ref: weakref.ref[Lease], ended: threading.Event, interval: float) -> None:
    """Renew the lease every `interval` until it ends, is lost, or its engine is gone."""
    while not ended.wait(interval):
        lease = lease_ref()
        if lease is None:
            return
        try:
            lease.renew()
        except Exception as exc:  # the database is unreachable: try again, then give up
            log.warning("worker %s could not renew its lease: %s", lease.id, _first_line(exc))
            if time.monotonic() - lease._renewed > lease.seconds:
                lease._lose("the database was unreachable for longer than the lease")
        del lease


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


_leases: weakref.WeakKeyDictionary[Engine, Lease] = weakref.WeakKeyDictionary()
_leases_lock = threading.Lock()


def lease_for(engine: Engine) -> Lease:
    """This process's lease on `engine`'s database, taken on first use (and anew after one
    was lost: a long-running worker goes on under a new id)."""
    with _leases_lock:
        lease = _leases.get(engine)
        if lease is None or lease.lost:
            lease = _leases[engine] = Lease(engine, lease_seconds())
        return lease


def leads(engine: Engine) -> bool:
    """Whether this process leads the workers of `engine`'s database: it holds the oldest
    live lease (taking one if it has none). When the leader dies, the next oldest leads
    once its lease expired."""
    lease = lease_for(engine)
    with engine.connect() as conn:
        leader = conn.execute(
            select(workers.c.id)
            .where(workers.c.expires_at > database_now(conn))
            .order_by(workers.c.started_at, workers.c.id)
            .limit(1)
        ).scalar()
    return leader == lease.id


def place(engine: Engine) -> tuple[int, int]:
    """This process's place among the live workers of `engine`'s database (0: the oldest),
    and how many there are; it takes a lease if it has none."""
    lease = lease_for(engine)
    with engine.connect() as conn:
        live = list(
            conn.execute(
                select(workers.c.id)
                .where(workers.c.expires_at > database_now(conn))
                .order_by(workers.c.started_at, workers.c.id)
            ).scalars()
        )
    return (live.index(lease.id), len(live)) if lease.id in live else (0, 1)


def ensure_held(engine: Engine) -> None:
    """Raise `DeliveryError` unless this process safely holds the lease its claims on
    `engine`'s database were made under (see `Lease.ensure_held`)."""
    with _leases_lock:
        lease = _leases.get(engine)
    if lease is None:
        raise DeliveryError("this worker holds no lease on the database: it claimed nothing")
    lease.ensure_held()


def end_leases() -> None:
    """Give up every lease this process holds (at exit; a helper process when done)."""
    with _leases_lock:
        held = list(_leases.values())
        _leases.clear()
    for lease in held:
        try:
            lease.end()
        except Exception as exc:  # it expires by itself within the lease
            log.debug("could not end lease %s: %s", lease.id, _first_line(exc))


def _forget_in_child() -> None:
    """A forked process is another worker: it takes leases of its own."""
    global _leases_lock
    _leases_lock = threading.Lock()
    _leases.clear()


atexit.register(end_leases)
os.register_at_fork(after_in_child=_forget_in_child)
