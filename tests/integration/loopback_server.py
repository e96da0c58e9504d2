"""A server on loopback that serves one connection in a thread of its own."""

from __future__ import annotations

import socket
import threading


class OneConnectionServer:
    """Accepts one connection and hands it to `converse`; `stop` ends it."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def converse(self, conn: socket.socket) -> None:
        """What the server does with the connection."""
        raise NotImplementedError

    def stop(self) -> None:
        self._listener.close()
        self._thread.join(5)

    def _serve(self) -> None:
        conn, _ = self._listener.accept()
        with conn:
            self.converse(conn)
