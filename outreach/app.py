"""Wiring: settings → schedule, renderer, store, transports.

Each part is imported when first built: `outreach --help` loads none of them, and a command
loads only the parts it uses (the store's SQLAlchemy, a transport's client library).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from outreach.errors import OutreachError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from outreach.campaign.model import Schedule
    from outreach.config import Settings
    from outreach.rendering.renderer import Renderer
    from outreach.tokens import TokenSigner
    from outreach.transports.base import EmailTransport, PostTransport


@dataclass
class App:
    """The parts a command needs, built on first use from the settings."""

    settings: Settings

    @cached_property
    def schedule(self) -> Schedule:
        """The campaign file, checked against the templates that exist."""
        from outreach.campaign.loader import load_schedule
        from outreach.rendering.templates import template_names_in

        return load_schedule(self.settings.schedules, template_names_in(self.settings.templates))

    @cached_property
    def renderer(self) -> Renderer:
        """Every template, compiled once (and kept compiled in OUTREACH_CACHE)."""
        from outreach.rendering.renderer import Renderer
        from outreach.template_cache import bytecode_caches

        cache_for = bytecode_caches(self.settings.cache)
        return Renderer(self.schedule, self.settings.templates, cache_for=cache_for)

    @cached_property
    def engine(self) -> Engine:
        """The store."""
        from outreach.store.db import open_database

        return open_database(self.settings.database_url)

    @cached_property
    def signer(self) -> TokenSigner:
        """Signs unsubscribe links: with OUTREACH_SECRET_KEY, else a key kept in the store."""
        from outreach.store.db import stored_secret
        from outreach.tokens import TokenSigner

        secret = self.settings.secret_key
        if secret is None:
            return TokenSigner(stored_secret(self.engine, "unsubscribe-secret"))
        return TokenSigner(secret.get_secret_value())

    def email_transport(self, clock: Callable[[], datetime]) -> EmailTransport:
        """The configured email transport."""
        if self.settings.email_transport == "outbox":
            from outreach.transports.outbox import OutboxEmailTransport

            return OutboxEmailTransport(self.settings.outbox, clock)
        # Imported here: each pulls in a client library that other commands do not need.
        if self.settings.email_transport == "smtp":
            from outreach.transports.smtp import SmtpTransport

            return SmtpTransport.from_settings(self.settings, clock)
        if self.settings.email_transport == "sendgrid":
            from outreach.transports.sendgrid import SendGridTransport

            return SendGridTransport.from_settings(self.settings, clock)
        raise OutreachError(
            f"the {self.settings.email_transport} email transport is not available in this "
            "version; use OUTREACH_EMAIL_TRANSPORT=outbox"
        )

    def post_transport(self, clock: Callable[[], datetime]) -> PostTransport:
        """The configured transport for the organization's own posts."""
        if self.settings.social_transport == "outbox":
            from outreach.transports.outbox import OutboxPostTransport

            return OutboxPostTransport(self.settings.outbox, clock)
        if self.settings.social_transport == "x":
            from outreach.transports.x import XPostTransport

            return XPostTransport.from_settings(self.settings)
        raise OutreachError(
            f"the {self.settings.social_transport} social transport is not available in this "
            "version; use OUTREACH_SOCIAL_TRANSPORT=outbox"
        )
