"""The HTTP server `outreach serve` runs: uvicorn, with deadlines for slow clients.

uvicorn never times out a request's headers (its keep-alive timer is cancelled by any byte,
so a client trickling one byte at a time holds a connection for ever). `SlowClientProtocol`
gives every request `HEADER_SECONDS` from the connection (or the previous response) to
finish its headers, else closes the connection; the body has `BODY_SECONDS` (`BodyDeadline`).
"""

from __future__ import annotations

import asyncio

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_SECONDS = 10.0
"""Time a client has to send a request's line and headers."""
KEEP_ALIVE_SECONDS = 5
"""Time an idle keep-alive connection stays open."""
MAX_HEADER_BYTES = 16 * 1024
"""Request line and headers larger than this are refused (h11's own default is 16 KB too)."""


class SlowClientProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose headers take over `header_seconds`."""

    header_seconds = HEADER_SECONDS
    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock for the first request's headers."""
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_response_complete(self) -> None:
        """Start the clock for the next request's headers."""
        super().on_response_complete()
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock."""
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        if not self.transport.is_closing():
            self._header_deadline = self.loop.call_later(self.header_seconds, self._headers_late)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_late(self) -> None:
        """Close the connection if the request's headers are still incomplete."""
        self._header_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def server_config(
    asgi: ASGIApp,
    host: str,
    port: int,
    log_level: str | None = None,
    protocol: type[SlowClientProtocol] = SlowClientProtocol,
) -> uvicorn.Config:
    """uvicorn's configuration for `asgi`: no banner, no access log, slow clients cut off."""
    return uvicorn.Config(
        asgi,
        host=host,
        port=port,
        http=protocol,
        access_log=False,
        server_header=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        log_level=log_level,
    )
