"""Previews: the send asked for, who it is rendered for (a real supporter or a sample one),
and the email they would get."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import Engine

from outreach.campaign.model import Schedule, Supporter
from outreach.delivery.sends import all_sends
from outreach.errors import OutreachError
from outreach.rendering.renderer import Renderer
from outreach.rendering.social import share_links, target_handles
from outreach.rendering.views import RenderedEmail
from outreach.store.people import find_supporter
from outreach.timeline import Send
from outreach.tokens import TokenSigner

SAMPLE = Supporter(
    id=0,
    email="alex.sample@example.org",
    first_name="Alex",
    last_name="Sample",
    city="Halifax",
    region="NS",
    language="",
    timezone="America/Halifax",
)


def preview_supporter(
    engine: Engine, schedule: Schedule, email: str | None, language: str | None
) -> tuple[Supporter, str]:
    """The supporter to preview for and their time zone; `language` overrides theirs."""
    if email is None:
        supporter = SAMPLE
    else:
        with engine.connect() as conn:
            found = find_supporter(conn, email)
        if found is None:
            raise OutreachError(f"no supporter with the email '{email}'")
        supporter = found
    if language is not None:
        if language not in schedule.languages:
            raise OutreachError(
                f"language '{language}' is not one of the campaign languages "
                f"({', '.join(schedule.languages)})"
            )
        supporter = replace(supporter, language=language)
    elif not supporter.language:
        supporter = replace(supporter, language=schedule.fallback_language)
    return supporter, supporter.timezone or schedule.timezone


def find_send(schedule: Schedule, engine: Engine, campaign: str, reminder: str) -> Send | None:
    """The reminder (or pending queued reminder) `reminder` of `campaign`, if there is one."""
    return next(
        (s for s in all_sends(schedule, engine) if (s.campaign.id, s.key) == (campaign, reminder)),
        None,
    )


def render_preview(
    renderer: Renderer,
    signer: TokenSigner,
    public_url: str,
    send: Send,
    supporter: Supporter,
    zone: str,
) -> RenderedEmail:
    """The email `supporter` would get for `send`, on its day in `zone`, with a working
    unsubscribe link."""
    token = signer.make(supporter.id, send.campaign.id)
    return renderer.render_send(send, supporter, send.local_date(zone), f"{public_url}/u/{token}")


def preview_share_links(send: Send, post: str) -> dict[str, str]:
    """The one-click share links of `post` for each network ("" where a target of `send`
    has no handle there)."""
    handles = target_handles(send.campaign, send.targets)
    return share_links(post, list(handles.values()))
