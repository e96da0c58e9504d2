"""`outreach supporters`: import, export and unsubscribe."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import click
from rich.progress import Progress

from outreach.app import App
from outreach.console import err_console
from outreach.errors import OutreachError
from outreach.store.consent import consent_lapsed
from outreach.store.people import export_rows, find_supporter, import_supporters, suppress
from outreach.supporters import EXPORT_COLUMNS, parse_supporters

pass_app = click.make_pass_decorator(App)


@click.group()
def supporters() -> None:
    """Import, export and unsubscribe supporters."""


@supporters.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@pass_app
def import_command(app: App, file: Path) -> None:
    """Import or update supporters from a CSV file (UTF-8)."""
    try:
        handle = file.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise OutreachError(f"{file}: cannot read the file ({exc.strerror})") from None
    with handle, Progress(console=err_console(), transient=True) as progress:
        task = progress.add_task(f"importing {file.name}", total=_count_lines(file) - 1)
        try:
            report = import_supporters(
                app.engine,
                parse_supporters(handle, file.name),
                datetime.now(UTC),
                on_progress=lambda rows: progress.advance(task, rows),
            )
        except UnicodeDecodeError as exc:
            raise OutreachError(
                f"{file}: not UTF-8 text ({exc.reason}); nothing imported"
            ) from None
    for rejected in report.rejected:
        click.echo(f"{file}:{rejected.line}: {rejected.reason} (row skipped)", err=True)
    click.echo(
        f"{file}: imported {report.imported}, updated {report.updated}, "
        f"rejected {len(report.rejected)}"
    )


def _count_lines(file: Path) -> int:
    """Lines in a file, read in blocks (an upper bound on its CSV rows, for progress)."""
    with file.open("rb") as raw:
        return sum(block.count(b"\n") for block in iter(lambda: raw.read(1 << 20), b""))


@supporters.command("export")
@click.argument("file", type=click.Path(path_type=Path, allow_dash=True), required=False)
@pass_app
def export_command(app: App, file: Path | None) -> None:
    """Write every supporter, with status and suppression reason, as CSV."""
    today = datetime.now(UTC).date()
    if file is None or str(file) == "-":
        count = _write_export(app, sys.stdout, today)
        click.echo(f"exported {count} supporters", err=True)
        return
    temporary = file.with_name(f".{file.name}.tmp")
    try:
        with temporary.open("w", encoding="utf-8", newline="") as handle:
            count = _write_export(app, handle, today)
        temporary.replace(file)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise OutreachError(f"{file}: cannot write the file ({exc.strerror})") from None
    click.echo(f"{file}: exported {count} supporters")


def _write_export(app: App, handle: TextIO, today: Any) -> int:
    writer = csv.DictWriter(handle, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    count = 0
    for row in export_rows(app.engine):
        writer.writerow(_export_row(row, today))
        count += 1
    return count


def _export_row(row: dict[str, Any], today: Any) -> dict[str, Any]:
    if row["suppression_reason"]:
        status = "suppressed"
    elif consent_lapsed(row["consent"], row["consent_date"], today):
        status = "lapsed"
    else:
        status = "active"
    suppressed_at = row["suppressed_at"]
    return row | {
        "tags": row["tags"].strip(";"),
        "timezone": row["timezone"] or "",
        "consent_date": row["consent_date"].isoformat() if row["consent_date"] else "",
        "status": status,
        "suppression_reason": row["suppression_reason"] or "",
        "suppressed_at": suppressed_at.isoformat() if suppressed_at else "",
    }


@supporters.command("unsubscribe")
@click.argument("email")
@click.option("--reason", default="manual", show_default=True, help="Why, for the record.")
@pass_app
def unsubscribe_command(app: App, email: str, reason: str) -> None:
    """Never email this address again."""
    with app.engine.connect() as conn:
        found = find_supporter(conn, email)
    address = found.email if found else email.strip()
    if "@" not in address:
        raise OutreachError(f"'{email}' is not an email address")
    if suppress(app.engine, address, reason, "by hand", datetime.now(UTC)):
        known = "" if found else " (not a known supporter: the address is suppressed anyway)"
        click.echo(f"{address} unsubscribed{known}")
    else:
        click.echo(f"{address} was already unsubscribed")
