"""`outreach health`: the database, the campaign and the worker's heartbeat."""

from __future__ import annotations

from datetime import timedelta

import click

from outreach.app import App
from outreach.cli.context import pass_app
from outreach.errors import OutreachError
from outreach.worker.health import check_health


@click.command()
@click.option(
    "--max-age",
    default=180,
    show_default=True,
    type=click.IntRange(min=1),
    help="A worker heartbeat older than this (seconds) is unhealthy.",
)
@pass_app
def health(app: App, max_age: int) -> None:
    """Check the database, the campaign and the worker's heartbeat (OUTREACH_HEARTBEAT)."""
    fine, wrong = check_health(app.settings, timedelta(seconds=max_age))
    for line in fine:
        click.echo(line)
    if wrong:
        raise OutreachError("; ".join(wrong))
