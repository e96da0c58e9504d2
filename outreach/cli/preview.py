"""`outreach preview`: a reminder as one supporter would get it."""

from __future__ import annotations

import click

from outreach.app import App
from outreach.cli.context import pass_app
from outreach.delivery.preview import (
    find_send,
    preview_share_links,
    preview_supporter,
    render_preview,
)
from outreach.errors import OutreachError


@click.command()
@click.argument("campaign")
@click.argument("reminder")
@click.option("--email", help="Preview for this supporter (default: a sample supporter).")
@click.option("--language", help="Preview in this language.")
@click.option("--html", "show_html", is_flag=True, help="Print the HTML part too.")
@pass_app
def preview(
    app: App,
    campaign: str,
    reminder: str,
    email: str | None,
    language: str | None,
    show_html: bool,
) -> None:
    """Show the rendered subject, text, suggested post and share links."""
    send = find_send(app.schedule, app.engine, campaign, reminder)
    if send is None:
        raise OutreachError(
            f"no reminder '{reminder}' in campaign '{campaign}' (see `outreach plan`)"
        )
    supporter, zone = preview_supporter(app.engine, app.schedule, email, language)
    rendered = render_preview(
        app.renderer, app.signer, app.settings.public_url, send, supporter, zone
    )
    click.echo(f"To: {supporter.name} <{supporter.email}>  ({rendered.language})")
    click.echo(f"Subject: {rendered.subject}\n")
    click.echo(rendered.text)
    if show_html:
        click.echo("\n--- HTML ---\n" + rendered.html)
    if rendered.post:
        click.echo(f"\n--- Suggested post ---\n{rendered.post}\n")
        for network, url in preview_share_links(send, rendered.post).items():
            click.echo(f"{network}: {url or 'no link (a target has no handle there)'}")
