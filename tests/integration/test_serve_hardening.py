"""`serve` against hostile clients: forged Host headers, redirects, slow headers and bodies."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn

from outreach.app import App
from outreach.web.app import create_app
from outreach.web.limits import allowed_hosts
from outreach.web.server import SlowClientProtocol, server_config
from tests.integration.web_support import demo_app

NOW = datetime(2018, 3, 2, 12, 0, tzinfo=UTC)
PUBLIC = "https://act.example.org"
QUICK = 0.5
"""The deadlines these tests set, in seconds (the real ones are 10 s)."""


class QuickHeaders(SlowClientProtocol):
    header_seconds = QUICK


@contextmanager
def running(app: App) -> Iterator[tuple[str, int]]:
    """`outreach serve`'s server, with short deadlines, on a free loopback port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    web = create_app(app, clock=lambda: NOW, body_seconds=QUICK)
    server = uvicorn.Server(server_config(web, host, port, "warning", QuickHeaders))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield host, port
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    app = demo_app(
        f"sqlite:///{tmp_path / 'outreach.db'}",
        tmp_path,
        OUTREACH_PUBLIC_URL=PUBLIC,
        OUTREACH_WEBHOOK_INSECURE="1",
    )
    with running(app) as address:
        yield address


def test_the_allowed_hosts_are_the_public_one_and_loopback() -> None:
    assert allowed_hosts("https://Act.Example.org:8443/base") == [
        "127.0.0.1",
        "[::1]",
        "act.example.org",
        "localhost",
    ]
    assert "[2001:db8::1]" in allowed_hosts("https://[2001:db8::1]")


@pytest.mark.parametrize("path", ["/u", "/u/", "/healthz/", "/webhooks/sendgrid/"])
def test_a_forged_host_is_refused_and_never_redirected_to(
    server: tuple[str, int], path: str
) -> None:
    host, port = server
    response = httpx.get(f"http://{host}:{port}{path}", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "evil.example" not in response.text


@pytest.mark.parametrize("name", ["act.example.org", "127.0.0.1", "localhost", "[::1]"])
def test_the_public_host_and_loopback_are_answered(server: tuple[str, int], name: str) -> None:
    host, port = server
    response = httpx.get(f"http://{host}:{port}/healthz", headers={"Host": f"{name}:{port}"})
    assert (response.status_code, response.text) == (200, "ok")


@pytest.mark.parametrize("path", ["/healthz/", "/webhooks/sendgrid/", "/u/x/"])
def test_a_trailing_slash_is_not_redirected(server: tuple[str, int], path: str) -> None:
    host, port = server
    response = httpx.get(f"http://{host}:{port}{path}", headers={"Host": "act.example.org"})
    assert response.status_code == 404
    assert "location" not in response.headers


def closed_while_trickling(sock: socket.socket, data: bytes) -> bool:
    """Send `data` a byte at a time, QUICK/5 apart: whether the server hung up meanwhile."""
    sock.settimeout(QUICK / 5)
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
            if sock.recv(1024) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:
            return True
    return False


def test_headers_sent_slowly_are_cut_off(server: tuple[str, int]) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
    with socket.create_connection(server) as sock:
        assert closed_while_trickling(sock, request)


def test_an_idle_connection_is_closed(server: tuple[str, int]) -> None:
    with socket.create_connection(server) as sock:
        sock.settimeout(QUICK * 40)
        assert sock.recv(1024) == b""


def test_a_body_sent_slowly_gets_408(server: tuple[str, int]) -> None:
    head = (
        b"POST /webhooks/sendgrid HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{"
    )
    with socket.create_connection(server) as sock:
        sock.sendall(head)
        sock.settimeout(QUICK * 40)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_requests_at_a_normal_pace_are_served(server: tuple[str, int]) -> None:
    host, port = server
    response = httpx.post(
        f"http://{host}:{port}/webhooks/sendgrid", content=b"[]", headers={"Host": host}
    )
    assert response.status_code == 200
