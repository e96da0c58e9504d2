"""Supporters and suppressions in the store: import, export, unsubscribe."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, select
from sqlalchemy.exc import IntegrityError

from outreach.campaign.model import Supporter
from outreach.store.schema import supporters, suppressions
from outreach.supporters.csvfile import RejectedRow, SupporterRecord, format_tags

IMPORT_CHUNK = 1000


@dataclass
class ImportReport:
    """What an import did, with the lines it skipped."""

    imported: int = 0
    updated: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)


def import_supporters(
    engine: Engine,
    rows: Iterable[SupporterRecord | RejectedRow],
    now: datetime,
    on_progress: Any = None,
) -> ImportReport:
    """Insert new supporters and update known ones (by email) in one transaction.

    Rejected rows are collected, never written; a failure leaves the store unchanged.
    """
    report = ImportReport()
    iterator = iter(rows)
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
    return report


def _write_chunk(
    conn: Connection, records: list[SupporterRecord], now: datetime, report: ImportReport
) -> None:
    if not records:
        return
    lowered = func.lower(supporters.c.email)
    known = dict(
        conn.execute(
            select(lowered, supporters.c.id).where(lowered.in_([r.email.lower() for r in records]))
        ).all()
    )
    new = [
        _values(r) | {"created_at": now, "updated_at": now}
        for r in records
        if r.email.lower() not in known
    ]
    if new:
        conn.execute(supporters.insert(), new)
        report.imported += len(new)
    changed = [
        _values(r) | {"known_id": known[r.email.lower()], "updated_at": now}
        for r in records
        if r.email.lower() in known
    ]
    if changed:
        conn.execute(supporters.update().where(supporters.c.id == bindparam("known_id")), changed)
        report.updated += len(changed)


def _values(record: SupporterRecord) -> dict[str, Any]:
    return {
        "email": record.email,
        "first_name": record.first_name,
        "last_name": record.last_name,
        "city": record.city,
        "region": record.region,
        "postal_code": record.postal_code,
        "country": record.country,
        "language": record.language,
        "timezone": record.timezone,
        "tags": f";{format_tags(t.lower() for t in record.tags)};" if record.tags else "",
        "consent": record.consent,
        "consent_date": record.consent_date,
        "consent_source": record.consent_source,
        "fields": json.dumps(dict(record.fields), ensure_ascii=False, sort_keys=True),
    }


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
        fields=json.loads(row["fields"]) if row["fields"] not in ("", "{}") else {},
    )


def find_supporter(conn: Connection, email: str) -> Supporter | None:
    """The supporter with this email (compared case-insensitively), if any."""
    row = conn.execute(
        select(supporters).where(func.lower(supporters.c.email) == email.strip().lower())
    ).first()
    return supporter_from_row(dict(row._mapping)) if row else None


def suppress(engine: Engine, email: str, reason: str, detail: str, now: datetime) -> bool:
    """Never email this address again. False when it was suppressed already."""
    try:
        with engine.begin() as conn:
            conn.execute(
                suppressions.insert().values(
                    email=email.strip().lower(), reason=reason, detail=detail, created_at=now
                )
            )
    except IntegrityError:
        return False
    return True


def export_rows(engine: Engine, chunk_size: int = IMPORT_CHUNK) -> Iterator[dict[str, Any]]:
    """Every supporter with their suppression, by id, in chunks."""
    after = 0
    joined = supporters.outerjoin(
        suppressions, suppressions.c.email == func.lower(supporters.c.email)
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
