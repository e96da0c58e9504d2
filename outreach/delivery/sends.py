"""Every send the campaign and the organizers' queue define."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Engine

from outreach.campaign.model import Audience, Schedule
from outreach.store import queue as queue_store
from outreach.timeline import Send, queued_send, reminder_sends


def all_sends(schedule: Schedule, engine: Engine) -> Iterator[Send]:
    """The schedule's reminders, then the pending queued reminders of known campaigns."""
    yield from reminder_sends(schedule)
    for queued in queue_store.listing(engine, states=(queue_store.PENDING,)):
        campaign = schedule.campaigns.get(queued.campaign)
        if campaign is None:
            continue
        yield queued_send(
            campaign,
            queued.id,
            queued.template,
            campaign.milestones.get(queued.milestone or ""),
            queued.at,
            queued.targets,
            Audience(queued.tags, queued.languages, queued.regions),
            queued.expires,
        )
