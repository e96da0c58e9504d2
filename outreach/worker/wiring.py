"""The dispatcher the app's settings describe, for `run --once` and the worker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from outreach.app import App
from outreach.campaign.model import Schedule
from outreach.delivery.dispatch import Dispatcher
from outreach.delivery.parallel import StopFlag
from outreach.delivery.results import ProgressReporter
from outreach.rendering.renderer import Renderer
from outreach.store.db import open_database


def build_dispatcher(
    app: App,
    clock: Callable[[], datetime],
    progress: ProgressReporter | None = None,
    *,
    campaign: tuple[Schedule, Renderer] | None = None,
    stop_flag: StopFlag | None = None,
) -> Dispatcher:
    """A dispatcher over the configured store and transports (and `campaign`, when given,
    instead of the campaign file as it is now)."""
    schedule, renderer = campaign or (app.schedule, app.renderer)
    settings = app.settings
    return Dispatcher(
        engine=app.engine,
        schedule=schedule,
        renderer=renderer,
        email_transport=app.email_transport(clock),
        post_transport=app.post_transport(clock),
        signer=app.signer,
        public_url=settings.public_url,
        progress=progress,
        # One process keeps an SMTP pace per minute exactly.
        processes=1 if settings.smtp_paced else settings.processes,
        helper_parts=lambda: (open_database(settings.database_url), app.email_transport(clock)),
        stop_flag=stop_flag,
    )
