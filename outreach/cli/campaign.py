"""`outreach campaign pause|resume`: stop and restart a campaign's sending."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from outreach.app import App
from outreach.cli.context import pass_app
from outreach.errors import OutreachError
from outreach.store.feedback import pause, paused_campaigns, resume


@click.group()
def campaign() -> None:
    """Pause and resume a campaign's sending."""


def _known(app: App, name: str) -> str:
    if name not in app.schedule.campaigns:
        raise OutreachError(f"no campaign '{name}' in {app.settings.schedules}")
    return name


@campaign.command("pause")
@click.argument("name", metavar="CAMPAIGN")
@click.option("--reason", default="paused by an organizer", show_default=True)
@pass_app
def pause_command(app: App, name: str, reason: str) -> None:
    """Stop sending a campaign's emails until it is resumed."""
    if pause(app.engine, _known(app, name), reason, datetime.now(UTC)):
        click.echo(f"{name} paused; resume with `outreach campaign resume {name}`")
    else:
        click.echo(f"{name} was already paused: {paused_campaigns(app.engine).get(name, '')}")


@campaign.command("resume")
@click.argument("name", metavar="CAMPAIGN")
@pass_app
def resume_command(app: App, name: str) -> None:
    """Send a paused campaign's emails again (what was due while paused goes out if not expired)."""
    if resume(app.engine, _known(app, name)):
        click.echo(f"{name} resumed")
    else:
        click.echo(f"{name} was not paused")
