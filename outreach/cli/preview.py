"""`outreach preview`: a reminder as one supporter would get it."""

from __future__ import annotations

import click

from outreach.app import App
from outreach.cli.context import pass_app
from outreach.delivery.preview import preview_supporter
from outreach.delivery.sends import all_sends
from outreach.errors import OutreachError
from outreach.rendering.social import share_links, target_handles


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
    send = next(
        (
            s
            for s in all_sends(app.schedule, app.engine)
            if (s.campaign.id, s.key) == (campaign, reminder)
        ),
        None,
    )
    if send is None:
        raise OutreachError(
            f"no reminder '{reminder}' in campaign '{campaign}' (see `outreach plan`)"
        )
    supporter, zone = preview_supporter(app.engine, app.schedule, email, language)
    rendered = app.renderer.render_email(
        campaign=send.campaign,
        template=send.template,
        target_ids=send.targets,
        milestone=send.milestone,
        supporter=supporter,
        send_date=send.local_date(zone),
        unsubscribe_url=f"{app.settings.public_url}/u/{app.signer.make(supporter.id, campaign)}",
    )
    click.echo(f"To: {supporter.name} <{supporter.email}>  ({rendered.language})")
    click.echo(f"Subject: {rendered.subject}\n")
    click.echo(rendered.text)
    if show_html:
        click.echo("\n--- HTML ---\n" + rendered.html)
    if rendered.post:
        click.echo(f"\n--- Suggested post ---\n{rendered.post}\n")
        handles = target_handles(send.campaign, send.targets)
        for network, url in share_links(rendered.post, list(handles.values())).items():
            click.echo(f"{network}: {url or 'no link (a target has no handle there)'}")
