"""ASGI middleware for hostile input: request bodies have a size limit and a deadline, pages
safe headers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1024 * 1024
"""SendGrid posts event batches of at most 768 KB; nothing else here needs a tenth of it."""

SECURITY_HEADERS = {
    # No scripts, no frames, no third parties; the one form posts back to this site.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Unsubscribe URLs carry a token: never pass them on, never keep them in a cache.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
"""Host headers always accepted, for local use and health checks on the machine itself."""


def allowed_hosts(public_url: str) -> list[str]:
    """The Host headers the app answers: OUTREACH_PUBLIC_URL's host, and loopback."""
    host = urlsplit(public_url).hostname or ""
    if ":" in host:  # an IPv6 literal, bracketed as in a Host header
        host = f"[{host}]"
    return sorted({host.lower(), *LOCAL_HOSTS} - {""})


class BodyTooLarge(HTTPException):
    """A request body over the limit (answered 413 by the error handlers)."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


class BodyLimit:
    """Refuses request bodies over `max_bytes`: at once when declared, else as they stream in."""

    def __init__(
        self,
        app: ASGIApp,
        refusal: Callable[[], Response],
        max_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.app = app
        self.refusal = refusal
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self.refusal()(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge()
            return message

        await self.app(scope, limited, send)


BODY_SECONDS = 10.0
"""Time a client has to send a request's whole body."""


class BodyTooSlow(HTTPException):
    """A request body still incomplete at the deadline (answered 408 by the error handlers)."""

    def __init__(self) -> None:
        super().__init__(status_code=408)


class BodyDeadline:
    """Refuses request bodies that take over `seconds` to arrive (slow clients hold workers)."""

    def __init__(self, app: ASGIApp, seconds: float = BODY_SECONDS) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        complete = False

        async def timed() -> Message:
            nonlocal complete
            if complete:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0))
            except TimeoutError:
                raise BodyTooSlow() from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                complete = True
            return message

        await self.app(scope, timed, send)


class SecurityHeaders:
    """Adds `SECURITY_HEADERS` to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)
