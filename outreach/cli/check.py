"""`outreach check`: the campaign file and every template, before anything is sent."""

from __future__ import annotations

import click

from outreach.app import App
from outreach.cli.context import pass_app
from outreach.errors import ProblemsError
from outreach.rendering.checks import (
    check_templates,
    per_recipient_notes,
    rendering_notes,
    share_notes,
)


@click.command()
@pass_app
def check(app: App) -> None:
    """Validate schedules.yaml and every template."""
    problems = check_templates(app.schedule, app.renderer, str(app.settings.templates))
    if problems:
        raise ProblemsError(problems)
    campaigns = len(app.schedule.campaigns)
    reminders = sum(len(c.reminders) for c in app.schedule.campaigns.values())
    templates = len(app.renderer.template_names())
    click.echo(
        f"{app.settings.schedules}: ok ({campaigns} campaigns, {reminders} reminders, "
        f"{templates} templates in {', '.join(app.schedule.languages)})"
    )
    for note in per_recipient_notes(app.renderer, str(app.settings.templates)):
        click.echo(note)
    for note in rendering_notes(app.schedule, app.renderer):
        click.echo(note)
    for note in share_notes(app.schedule):
        click.echo(note)
