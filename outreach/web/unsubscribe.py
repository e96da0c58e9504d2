"""`/u/<token>`: the unsubscribe link of every email (RFC 8058 one-click).

GET shows the address and a button and changes nothing (mail scanners open links).
POST with `List-Unsubscribe=One-Click` suppresses the supporter at once and answers 200:
no cookie, no login, no redirect. A token that is forged, tampered with or expired gets a
400 page and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse

from outreach.store.feedback import recipient, unsubscribe
from outreach.tokens import TokenSigner
from outreach.web.pages import Pages

log = logging.getLogger("outreach.web")

ONE_CLICK = ("List-Unsubscribe", "One-Click")


class UnsubscribeLink:
    """GET and POST `/u/<token>`."""

    def __init__(
        self, engine: Engine, signer: TokenSigner, pages: Pages, clock: Callable[[], datetime]
    ) -> None:
        self.engine = engine
        self.signer = signer
        self.pages = pages
        self.clock = clock

    async def handle(self, request: Request) -> HTMLResponse:
        """Show the confirmation (GET), or unsubscribe (POST)."""
        claim = self.signer.read(request.path_params["token"])
        if claim is None:
            return HTMLResponse(self.pages.notice("invalid"), status_code=400)
        if request.method == "POST":
            await request.body()  # the whole body, within the size limit, before parsing it
            form = await request.form(max_files=0, max_fields=10, max_part_size=1024)
            if form.get(ONE_CLICK[0]) != ONE_CLICK[1]:
                return HTMLResponse(self.pages.notice("bad_request"), status_code=400)
            done = await run_in_threadpool(
                unsubscribe, self.engine, claim.supporter_id, claim.campaign, self.clock()
            )
            log.info("unsubscribed supporter %d (campaign %s)", claim.supporter_id, claim.campaign)
            language = self.pages.language_for(done.language if done else None)
            return HTMLResponse(self.pages.done(language, done.email if done else None))
        found = await run_in_threadpool(recipient, self.engine, claim.supporter_id)
        if found is None:
            return HTMLResponse(self.pages.done(self.pages.language_for(None), None))
        page = self.pages.confirm(
            self.pages.language_for(found.language),
            found.email,
            claim.campaign,
            already=found.suppressed,
        )
        return HTMLResponse(page)
