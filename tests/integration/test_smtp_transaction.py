"""One SMTP transaction against a scripted server on loopback that records each read."""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from outreach.transports.mime import stuffed
from outreach.transports.smtp_transaction import envelope_safe, transaction
from tests.integration.loopback_server import OneConnectionServer

MESSAGE = stuffed(b"Subject: hi\r\n\r\n.leading dot\r\nlast line\r\n")


class ScriptedServer(OneConnectionServer):
    """Answers each read with the next reply of a script; keeps what each read got."""

    def __init__(self, greeting: bytes, script: list[bytes]) -> None:
        self.reads: list[bytes] = []
        self._script = [greeting, *script]
        super().__init__()

    def converse(self, conn: socket.socket) -> None:
        conn.sendall(b"220 scripted\r\n")
        for reply in self._script:
            data = conn.recv(65536)
            while data and not data.endswith(b"\r\n"):
                data += conn.recv(65536)
            self.reads.append(data)
            conn.sendall(reply)


@contextmanager
def connected(
    script: list[bytes], pipelining: bool = True
) -> Iterator[tuple[smtplib.SMTP, ScriptedServer]]:
    extensions = (
        b"250-scripted\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
        if pipelining
        else (b"250-scripted\r\n250 8BITMIME\r\n")
    )
    server = ScriptedServer(extensions, script)
    conn = smtplib.SMTP("127.0.0.1", server.port, timeout=5)
    conn.ehlo()
    try:
        yield conn, server
    finally:
        conn.close()
        server.stop()


def test_with_pipelining_mail_rcpt_and_data_go_in_one_write() -> None:
    script = [b"250 ok\r\n250 ok\r\n354 go on\r\n", b"250 2.0.0 queued as Q1\r\n"]
    with connected(script) as (conn, server):
        reply = transaction(conn, "info@example.org", "amelie@example.org", [], MESSAGE)

    assert reply == (250, b"2.0.0 queued as Q1")
    assert server.reads[1] == (
        b"MAIL FROM:<info@example.org>\r\nRCPT TO:<amelie@example.org>\r\nDATA\r\n"
    )
    assert server.reads[2] == b"Subject: hi\r\n\r\n..leading dot\r\nlast line\r\n.\r\n"


def test_a_refused_recipient_ends_a_data_the_server_took_anyway_without_the_message() -> None:
    script = [b"250 ok\r\n550 5.1.1 no such user\r\n354 go on\r\n", b"503 no valid recipients\r\n"]
    with connected(script) as (conn, server):
        reply = transaction(conn, "info@example.org", "nobody@example.org", [], MESSAGE)

    assert reply == (550, b"5.1.1 no such user")
    assert server.reads[2] == b".\r\n"  # the message itself never went


def test_without_pipelining_each_command_waits_for_its_reply() -> None:
    script = [b"250 ok\r\n", b"250 ok\r\n", b"354 go on\r\n", b"250 queued\r\n"]
    with connected(script, pipelining=False) as (conn, server):
        reply = transaction(
            conn, "info@example.org", "amelie@example.org", ["BODY=8BITMIME"], MESSAGE
        )

    assert reply == (250, b"queued")
    assert server.reads[1:4] == [
        b"MAIL FROM:<info@example.org> BODY=8BITMIME\r\n",
        b"RCPT TO:<amelie@example.org>\r\n",
        b"DATA\r\n",
    ]


def test_without_pipelining_a_refused_sender_stops_the_transaction() -> None:
    with connected([b"553 sender refused\r\n"], pipelining=False) as (conn, server):
        reply = transaction(conn, "info@example.org", "amelie@example.org", [], MESSAGE)

    assert reply == (553, b"sender refused")
    assert len(server.reads) == 2  # EHLO, MAIL: nothing after the refusal


@pytest.mark.parametrize(
    ("address", "safe"),
    [
        ("amelie@example.org", True),
        ("zoé@exemple.ca", True),
        ("eve@example.org>\r\nRCPT TO:<victim@example.net", False),
        ("a b@example.org", False),
        ("", False),
    ],
)
def test_only_plain_addresses_go_into_the_envelope(address: str, safe: bool) -> None:
    assert envelope_safe(address) is safe
