"""The organization's own post for a send: rendered, claimed in the ledger, published once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from outreach.campaign.model import Schedule
from outreach.errors import DeliveryError
from outreach.messages import ORGANIZATION, Channel, OutgoingPost
from outreach.rendering.renderer import Renderer
from outreach.store import ledger
from outreach.timeline import Send
from outreach.transports.base import PostTransport


def announce(
    engine: Engine,
    schedule: Schedule,
    renderer: Renderer,
    post_transport: PostTransport,
    send: Send,
    now: datetime,
    dry_run: bool,
) -> bool:
    """The organization's own post for `send`, once (ledger channel `x`), by the one worker
    that leads announcements; whether it was posted (or, in a dry run, would be)."""
    language = schedule.fallback_language
    text = renderer.render_announcement(
        campaign=send.campaign,
        template=send.template,
        target_ids=send.targets,
        milestone=send.milestone,
        language=language,
    )
    if not text:
        return False
    if dry_run:
        return not ledger.is_in_ledger(
            engine, send.campaign.id, send.key, Channel.POST, ORGANIZATION
        )
    if not ledger.leads_announcements(engine):
        return False  # the leader, another worker, posts it
    batch, won = ledger.claim(engine, send.campaign.id, send.key, Channel.POST, [ORGANIZATION], now)
    if not won:
        return False
    try:
        ledger.hold_lease(engine)
        outcome = post_transport.publish(OutgoingPost(send.campaign.id, send.key, text, language))
    except DeliveryError:
        ledger.release(engine, batch)  # not posted: it stays due
        raise
    if not outcome.ok:
        ledger.release(engine, batch)  # not posted: the next run tries again
        raise DeliveryError(f"the announcement was not posted: {outcome.detail}")
    ledger.record(engine, batch, [outcome], now)
    return True
