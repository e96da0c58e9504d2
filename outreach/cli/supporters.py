"""`outreach supporters`: import, export and unsubscribe."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

import click
from rich.progress import Progress
from sqlalchemy import Engine

from outreach.app import App
from outreach.cli.context import pass_app
from outreach.cli.output import err_console
from outreach.errors import OutreachError
from outreach.privacy import private_file
from outreach.store.people import (
    custom_field_names,
    export_rows,
    find_supporter,
    import_supporters,
    suppress,
)
from outreach.supporters.csvfile import parse_supporters
from outreach.supporters.exporting import export_cells, export_header
from outreach.supporters.updates import read_fields


@click.group()
def supporters() -> None:
    """Import, export and unsubscribe supporters."""


@supporters.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what the import would change; write nothing.")
@pass_app
def import_command(app: App, file: Path, dry_run: bool) -> None:
    """Import or update supporters from a CSV file (UTF-8).

    Only the columns the file has are updated; a blank or missing consent keeps the stored one.
    """
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
                dry_run=dry_run,
            )
        except UnicodeDecodeError as exc:
            raise OutreachError(
                f"{file}: not UTF-8 text ({exc.reason}); nothing imported"
            ) from None
    for rejected in report.rejected:
        click.echo(f"{file}:{rejected.line}: {rejected.reason} (row skipped)", err=True)
    prefix = "dry run, nothing written: would have " if dry_run else ""
    click.echo(
        f"{file}: {prefix}imported {report.imported}, updated {report.updated}, "
        f"rejected {len(report.rejected)}, unchanged {report.unchanged}"
    )


def _count_lines(file: Path) -> int:
    """Lines in a file, read in blocks (an upper bound on its CSV rows, for progress)."""
    with file.open("rb") as raw:
        return sum(block.count(b"\n") for block in iter(lambda: raw.read(1 << 20), b""))


@supporters.command("export")
@click.argument("file", type=click.Path(path_type=Path, allow_dash=True), required=False)
@pass_app
def export_command(app: App, file: Path | None) -> None:
    """Write every supporter, with status, suppression reason and custom columns, as CSV.

    The file is readable by its owner only; cells that a spreadsheet would run as a formula
    start with a quote (import removes it).
    """
    today = datetime.now(UTC).date()
    if file is None or str(file) == "-":
        count = write_export(app.engine, sys.stdout, today)
        click.echo(f"exported {count} supporters", err=True)
        return
    temporary = file.with_name(f".{file.name}.tmp")
    try:
        with private_file(temporary) as handle:
            count = write_export(app.engine, handle, today)
        temporary.replace(file)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise OutreachError(f"{file}: cannot write the file ({exc.strerror})") from None
    click.echo(f"{file}: exported {count} supporters")


def write_export(engine: Engine, handle: TextIO, today: date) -> int:
    """Every supporter as CSV on `handle`; how many."""
    header = export_header(custom_field_names(engine))
    writer = csv.writer(handle)
    writer.writerow(header)
    count = 0
    for row in export_rows(engine):
        writer.writerow(export_cells(row, read_fields(str(row["fields"])), header, today))
        count += 1
    return count


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
