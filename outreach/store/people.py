"""Supporters and suppressions in the store: import, export, unsubscribe.

Every lookup goes through the address key (`supporters/addresses.py`), computed in Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select
from sqlalchemy.exc import IntegrityError

from outreach.campaign.model import Supporter
from outreach.store.schema import supporters, suppressions
from outreach.supporters.addresses import address_key
from outreach.supporters.csvfile import COLUMNS, RejectedRow, SupporterRecord
from outreach.supporters.updates import Refused, changes, new_supporter, read_fields

IMPORT_CHUNK = 1000


@dataclass
class ImportReport:
    """What an import did (or, dry, would do), with the lines it skipped."""

    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)


class _DryRun(Exception):
    """Rolls back a dry run's transaction."""


def import_supporters(
    engine: Engine,
    rows: Iterable[SupporterRecord | RejectedRow],
    now: datetime,
    on_progress: Any = None,
    *,
    dry_run: bool = False,
) -> ImportReport:
    """Insert new supporters and update known ones (by address key) in one transaction.

    Rejected rows are collected, never written; a failure leaves the store unchanged; a dry
    run counts the same and writes nothing.
    """
    report = ImportReport()
    iterator = iter(rows)
    try:
        with engine.begin() as conn:
            while chunk := list(islice(iterator, IMPORT_CHUNK)):
                records = []
                for row in chunk:
                    if isinstance(row, RejectedRow):
                        report.rejected.append(row)
                    else:
                        records.append(row)
                _write_chunk(conn, records, now, report)
                if on_progress is not None:
                    on_progress(len(chunk))
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    report.rejected.sort(key=lambda row: row.line)
    return report


def _write_chunk(
    conn: Connection, records: list[SupporterRecord], now: datetime, report: ImportReport
) -> None:
    if not records:
        return
    keys = [r.key for r in records]
    known = {
        str(row.address_key): dict(row._mapping)
        for row in conn.execute(select(supporters).where(supporters.c.address_key.in_(keys)))
    }
    suppressed = set(
        conn.execute(
            select(suppressions.c.address_key).where(suppressions.c.address_key.in_(keys))
        ).scalars()
    )
    new = []
    changed = []
    for record in records:
        stored = known.get(record.key)
        if stored is None:
            new.append(new_supporter(record) | {"created_at": now, "updated_at": now})
            continue
        try:
            change = changes(stored, record, record.key in suppressed)
        except Refused as exc:
            report.rejected.append(RejectedRow(record.line, str(exc)))
            continue
        if not change:
            report.unchanged += 1
            continue
        merged = {name: stored[name] for name in _UPDATED} | change
        changed.append(merged | {"known_id": stored["id"], "updated_at": now})
    if new:
        conn.execute(supporters.insert(), new)
        report.imported += len(new)
    if changed:
        conn.execute(supporters.update().where(supporters.c.id == bindparam("known_id")), changed)
        report.updated += len(changed)


_UPDATED = (*COLUMNS[1:], "fields")
"""The columns an import may change (never the address the supporter was first seen with)."""


def supporter_from_row(row: Mapping[str, Any]) -> Supporter:
    """The renderer's view of a supporters row."""
    return Supporter(
        id=int(row["id"]),
        email=str(row["email"]),
        first_name=str(row["first_name"]),
        last_name=str(row["last_name"]),
        city=str(row["city"]),
        region=str(row["region"]),
        language=str(row["language"]),
        timezone=row["timezone"],
        fields=read_fields(str(row["fields"])),
    )


def find_supporter(conn: Connection, email: str) -> Supporter | None:
    """The supporter with this address (however it is spelled), if any."""
    row = conn.execute(
        select(supporters).where(supporters.c.address_key == address_key(email))
    ).first()
    return supporter_from_row(dict(row._mapping)) if row else None


def suppress(engine: Engine, email: str, reason: str, detail: str, now: datetime) -> bool:
    """Never email this address again. False when it was suppressed already."""
    try:
        with engine.begin() as conn:
            conn.execute(suppressions.insert().values(suppression(email, reason, detail, now)))
    except IntegrityError:
        return False
    return True


def suppression(email: str, reason: str, detail: str, now: datetime) -> dict[str, Any]:
    """The suppressions row for an address."""
    address = email.strip()
    return {
        "email": address,
        "address_key": address_key(address),
        "reason": reason,
        "detail": detail,
        "created_at": now,
    }


def custom_field_names(engine: Engine, chunk_size: int = IMPORT_CHUNK) -> set[str]:
    """Every custom column any supporter has a value in."""
    names: set[str] = set()
    after = 0
    while True:
        query = (
            select(supporters.c.id, supporters.c.fields)
            .where(supporters.c.id > after, supporters.c.fields != "{}")
            .order_by(supporters.c.id)
            .limit(chunk_size)
        )
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return names
        for row in rows:
            names.update(read_fields(str(row.fields)))
        after = int(rows[-1].id)


def export_rows(engine: Engine, chunk_size: int = IMPORT_CHUNK) -> Iterator[dict[str, Any]]:
    """Every supporter with their suppression, by id, in chunks."""
    after = 0
    joined = supporters.outerjoin(
        suppressions, suppressions.c.address_key == supporters.c.address_key
    )
    while True:
        query = (
            select(
                supporters,
                suppressions.c.reason.label("suppression_reason"),
                suppressions.c.created_at.label("suppressed_at"),
            )
            .select_from(joined)
            .where(supporters.c.id > after)
            .order_by(supporters.c.id)
            .limit(chunk_size)
        )
        with engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
        if not rows:
            return
        yield from rows
        after = int(rows[-1]["id"])
