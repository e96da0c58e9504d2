"""Preview any reminder in any language, for a sample or a chosen supporter; send a test to me.

A test goes to the signed-in account's own address through the configured transport, its
subject prefixed "[TEST]". It never touches the ledger, and the audit log records it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from outreach.campaign.model import Supporter
from outreach.delivery.compose import Composer
from outreach.delivery.preview import (
    find_send,
    preview_share_links,
    preview_supporter,
    render_preview,
)
from outreach.delivery.sends import all_sends
from outreach.errors import DeliveryError, OutreachError
from outreach.messages import Content, OutgoingEmail
from outreach.rendering.social import weighted_length
from outreach.rendering.views import RenderedEmail
from outreach.timeline import Send
from outreach.web.console.core import Console, Context


class PreviewPages:
    """`/campaigns/{id}/preview` and `/campaigns/{id}/test`."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.app = console.app

    def _send(self, campaign: str, reminder: str) -> Send | None:
        return find_send(self.app.schedule, self.app.engine, campaign, reminder)

    def _render(self, send: Send, supporter: Supporter, zone: str) -> RenderedEmail:
        app = self.app
        return render_preview(
            app.renderer, app.signer, app.settings.public_url, send, supporter, zone
        )

    def _choices(self, request: Request, context: Context) -> tuple[str, str, str, str]:
        source = context.form if context.form is not None else request.query_params
        campaign = request.path_params["campaign"]
        reminder = str(source.get("reminder", "") or "")
        language = str(source.get("language", "") or context.language)
        email = str(source.get("email", "") or "").strip()
        return campaign, reminder, language, email

    async def show(self, request: Request, context: Context) -> Response:
        """The rendered email (HTML in a sandboxed frame), text, post and share links."""
        return await self._page(request, context, sent_to="")

    async def _page(self, request: Request, context: Context, sent_to: str) -> Response:
        campaign_id, reminder, language, email = self._choices(request, context)
        schedule = self.app.schedule
        campaign = schedule.campaigns.get(campaign_id)
        if campaign is None:
            return self.console.render(request, "notice.html", context, 404, key="not_found_page")
        sends = [s for s in all_sends(schedule, self.app.engine) if s.campaign.id == campaign_id]
        send = next((s for s in sends if s.key == reminder), sends[0] if sends else None)
        values: dict[str, Any] = {
            "campaign": campaign,
            "sends": sends,
            "send": send,
            "chosen_language": language if language in schedule.languages else "",
            "email": email,
            "rendered": None,
            "problem": "",
            "sent_to": sent_to,
        }
        if send is not None:
            try:
                supporter, zone = await run_in_threadpool(
                    preview_supporter,
                    self.app.engine,
                    schedule,
                    email or None,
                    language if language in schedule.languages else None,
                )
                rendered = self._render(send, supporter, zone)
            except OutreachError as exc:
                values["problem"] = str(exc)
            else:
                values.update(
                    rendered=rendered,
                    supporter=supporter,
                    weighted=weighted_length(rendered.post) if rendered.post else 0,
                    shares=preview_share_links(send, rendered.post) if rendered.post else {},
                )
        return self.console.render(request, "preview.html", context, **values)

    async def test(self, request: Request, context: Context) -> Response:
        """Send this preview to the signed-in organizer's own address (organizers)."""
        campaign_id, reminder, language, email = self._choices(request, context)
        send = self._send(campaign_id, reminder)
        if send is None:
            return self.console.render(request, "notice.html", context, 404, key="not_found_page")
        try:
            address = await run_in_threadpool(self._send_test, context, send, language, email)
        except (OutreachError, DeliveryError) as exc:
            return self.console.render(
                request, "notice.html", context, 502, key="problem", message=str(exc)
            )
        return await self._page(request, context, sent_to=address)

    def _send_test(self, context: Context, send: Send, language: str, email: str) -> str:
        schedule = self.app.schedule
        chosen = language if language in schedule.languages else None
        supporter, zone = preview_supporter(self.app.engine, schedule, email or None, chosen)
        app = self.app
        composer = Composer(schedule, app.renderer, app.signer, app.settings.public_url)
        row = asdict(supporter) | {"fields": json.dumps(dict(supporter.fields)), "zone": zone}
        composed = composer.compose(send, row)
        address = context.user.email
        test = replace(
            composed,
            to_email=address,
            to_name=address,
            content=Content(f"[TEST] {composed.subject}", composed.text, composed.html),
            skeleton=None,
            substitutions={},
            send_at=None,
        )
        self._deliver(test)
        self.console.audit(
            context,
            "test-send",
            f"{send.campaign.id}/{send.key} in {composed.language} for {supporter.email} "
            f"to {address}",
        )
        return address

    def _deliver(self, email: OutgoingEmail) -> None:
        transport = self.app.email_transport(lambda: datetime.now(UTC))
        try:
            outcomes = transport.send([email])
        finally:
            transport.close()
        refused = [o for o in outcomes if not o.ok]
        if refused:
            raise DeliveryError(f"the test was refused: {refused[0].detail}")
