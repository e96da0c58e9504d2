"""`outreach serve`: the web app (unsubscribe links, the SendGrid webhook, the console)."""

from __future__ import annotations

import logging

import click
import uvicorn

from outreach.app import App
from outreach.cli.context import pass_app
from outreach.web.app import create_app
from outreach.web.server import server_config


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port."
)
@pass_app
def serve(app: App, host: str, port: int) -> None:
    """The web app: unsubscribe links, SendGrid webhook, organizer console."""
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
    uvicorn.Server(server_config(web, host, port)).run()
