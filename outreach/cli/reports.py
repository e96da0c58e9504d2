"""`outreach plan` and `outreach status`: what will be sent, and what was."""

from __future__ import annotations

import json
from datetime import timedelta

import click

from outreach.app import App
from outreach.cli.context import NOW_HELP, pass_app
from outreach.cli.output import out_console, plan_table, status_table
from outreach.clock import parse_now
from outreach.delivery.reports import plan as plan_sends
from outreach.delivery.reports import status as send_status
from outreach.delivery.sends import all_sends
from outreach.errors import OutreachError


@click.command()
@click.option("--now", "now_text", help=NOW_HELP)
@click.option("--days", default=30, show_default=True, type=click.IntRange(min=1))
@pass_app
def plan(app: App, now_text: str | None, days: int) -> None:
    """Upcoming sends: local time, UTC window and audience size."""
    now = parse_now(now_text, app.schedule.timezone)
    planned = plan_sends(
        app.schedule,
        app.engine,
        all_sends(app.schedule, app.engine),
        now,
        now + timedelta(days=days),
    )
    if not planned:
        click.echo(f"Nothing to send between {now:%Y-%m-%d %H:%M} UTC and {days} days later.")
        return
    out_console().print(plan_table(planned))


@click.command()
@click.argument("campaign", required=False)
@click.option("--now", "now_text", help=NOW_HELP)
@click.option("--json", "as_json", is_flag=True, help="A JSON list of objects.")
@pass_app
def status(app: App, campaign: str | None, now_text: str | None, as_json: bool) -> None:
    """Per reminder: sent, failed, suppressed, lapsed, uncertain, pending."""
    if campaign is not None and campaign not in app.schedule.campaigns:
        raise OutreachError(f"no campaign '{campaign}' in {app.settings.schedules}")
    now = parse_now(now_text, app.schedule.timezone)
    sends = [s for s in all_sends(app.schedule, app.engine) if campaign in (None, s.campaign.id)]
    rows = send_status(app.schedule, app.engine, sends, now)
    if as_json:
        click.echo(json.dumps([r.as_json() for r in rows], indent=2))
    else:
        out_console().print(status_table(rows, app.settings.spam_pause_rate))
