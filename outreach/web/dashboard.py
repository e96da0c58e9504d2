"""`GET /`: the organizer's read-only dashboard (what `outreach status` shows), behind HTTP Basic.

It is refused while OUTREACH_DASHBOARD_PASSWORD is unset; any user name is accepted.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable
from datetime import datetime

from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse

from outreach.app import App
from outreach.delivery.reports import STATUS_COLUMNS, SendStatus, status
from outreach.delivery.sends import all_sends
from outreach.store.feedback import paused_campaigns
from outreach.web.pages import Pages

CHALLENGE = {"WWW-Authenticate": 'Basic realm="outreach dashboard", charset="UTF-8"'}


def password_in(header: str | None) -> str | None:
    """The password of an `Authorization: Basic …` header, if it has one."""
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _user, colon, password = decoded.partition(":")
    return password if colon else None


class Dashboard:
    """`GET /`."""

    def __init__(
        self,
        app: App,
        pages: Pages,
        password: SecretStr | None,
        clock: Callable[[], datetime],
    ) -> None:
        self.app = app
        self.pages = pages
        self.password = password
        self.clock = clock

    async def show(self, request: Request) -> HTMLResponse:
        """The status table, to whoever gives the password."""
        if not self.password:
            return HTMLResponse(self.pages.notice("disabled"), status_code=403)
        given = password_in(request.headers.get("authorization"))
        if given is None or not secrets.compare_digest(
            given.encode("utf-8"), self.password.get_secret_value().encode("utf-8")
        ):
            return HTMLResponse(self.pages.notice("login"), status_code=401, headers=CHALLENGE)
        now = self.clock()
        rows, paused = await run_in_threadpool(self._figures, now)
        stamp = f"{now:%Y-%m-%d %H:%M} UTC"
        return HTMLResponse(self.pages.dashboard(rows, paused, stamp, STATUS_COLUMNS))

    def _figures(self, now: datetime) -> tuple[list[SendStatus], dict[str, str]]:
        schedule, engine = self.app.schedule, self.app.engine
        rows = status(schedule, engine, all_sends(schedule, engine), now)
        return rows, paused_campaigns(engine)
