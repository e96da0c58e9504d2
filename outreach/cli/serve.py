"""`outreach serve` (the web app) and `outreach campaign pause|resume`."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import click

from outreach.app import App
from outreach.errors import OutreachError
from outreach.store.feedback import pause, paused_campaigns, resume

pass_app = click.make_pass_decorator(App)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port."
)
@pass_app
def serve(app: App, host: str, port: int) -> None:
    """The web app: unsubscribe links, SendGrid webhook, organizer console."""
    import uvicorn

    from outreach.web.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    web = create_app(app)
    settings = app.settings
    click.echo(f"Unsubscribe links: {settings.public_url}/u/… (OUTREACH_PUBLIC_URL)")
    if settings.webhook_public_key:
        click.echo("SendGrid webhook: /webhooks/sendgrid, signatures verified")
    elif settings.webhook_insecure:
        click.echo("SendGrid webhook: /webhooks/sendgrid, UNSIGNED (OUTREACH_WEBHOOK_INSECURE=1)")
    else:
        click.echo("SendGrid webhook: off until SENDGRID_WEBHOOK_PUBLIC_KEY is set")
    click.echo("Organizer console: /login (accounts: `outreach users add EMAIL --role admin`)")
    uvicorn.run(web, host=host, port=port, access_log=False, server_header=False)


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
