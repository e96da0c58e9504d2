"""The web app `outreach serve` runs: unsubscribe links, the SendGrid webhook, the console.

Debug is off: an unexpected error is logged on the server and answered with a plain page,
never a stack trace. Request bodies are size-limited and every response has safe headers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from outreach.app import App
from outreach.web.console.routes import console_routes
from outreach.web.limits import (
    BODY_SECONDS,
    BodyDeadline,
    BodyLimit,
    SecurityHeaders,
    allowed_hosts,
)
from outreach.web.pages import Pages
from outreach.web.unsubscribe import UnsubscribeLink
from outreach.web.webhook import SendGridWebhook, SignatureCheck

log = logging.getLogger("outreach.web")

NOTICES = {
    400: "bad_request",
    404: "not_found",
    405: "bad_request",
    408: "bad_request",
    413: "too_large",
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    app: App, clock: Callable[[], datetime] = _utc_now, body_seconds: float = BODY_SECONDS
) -> Starlette:
    """The web app over the configured store, schedule and signing key.

    It answers only Host headers naming OUTREACH_PUBLIC_URL's host or loopback, never
    redirects, and refuses (408) a body that takes over `body_seconds` to arrive.
    """
    settings = app.settings
    pages = Pages(app.schedule)
    engine = app.engine
    key = settings.webhook_public_key
    webhook = SendGridWebhook(
        engine,
        SignatureCheck(key.get_secret_value()) if key else None,
        insecure=settings.webhook_insecure,
        clock=clock,
        pause_rate=settings.spam_pause_rate,
    )
    link = UnsubscribeLink(engine, app.signer, pages, clock)

    async def healthz(request: Request) -> PlainTextResponse:
        def ping() -> None:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        try:
            await run_in_threadpool(ping)
        except SQLAlchemyError:
            log.exception("health check: the database does not answer")
            return PlainTextResponse("database unavailable", status_code=503)
        return PlainTextResponse("ok")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if request.url.path.startswith("/webhooks/"):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        page = pages.notice(NOTICES.get(exc.status_code, "bad_request"))
        return HTMLResponse(page, status_code=exc.status_code)

    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("unexpected error on %s %s", request.method, request.url.path)
        if request.url.path.startswith("/webhooks/"):
            return JSONResponse({"error": "internal error"}, status_code=500)
        return HTMLResponse(pages.notice("error"), status_code=500)

    web = Starlette(
        debug=False,
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/u/{token}", link.handle, methods=["GET", "POST"]),
            Route("/webhooks/sendgrid", webhook.receive, methods=["POST"]),
            *console_routes(app, clock),
        ],
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(
                TrustedHostMiddleware,
                allowed_hosts=allowed_hosts(settings.public_url),
                www_redirect=False,
            ),
            Middleware(BodyDeadline, seconds=body_seconds),
            Middleware(BodyLimit, refusal=lambda: HTMLResponse(pages.notice("too_large"), 413)),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )
    # A trailing-slash redirect would send the client to whatever host its request named.
    web.router.redirect_slashes = False
    return web
