"""One SMTP transaction (MAIL, RCPT, DATA, the message) on an open `smtplib` connection.

`smtplib` opens, secures and logs in the connection; the transaction itself is written here
because `smtplib` cannot pipeline. With PIPELINING (RFC 2920), which most servers offer,
MAIL, RCPT and DATA go out in one write and their three replies come back together; the
transport (`smtp.py`) also sends each message's end of data in one write with the next
message's commands: one round trip a message instead of four. Without it, the commands go
one at a time, as `smtplib.sendmail` sends them.

The message bytes are the outbox's, with CRLF line ends and no bare CR or LF (`mime.py`
makes sure: a bare line end in DATA is how SMTP smuggling starts), dot-stuffed already
(`wire_bytes(..., dot_stuffed=True)`); only the lone `.` line that ends DATA is added.
"""

from __future__ import annotations

import re
import smtplib

END_OF_DATA = b".\r\n"
_UNSAFE_IN_ADDRESS = re.compile(r"[\x00-\x20<>\x7f]")


def envelope_safe(address: str) -> bool:
    """Whether `address` can go between `<` and `>` in MAIL or RCPT as it is."""
    return bool(address) and not _UNSAFE_IN_ADDRESS.search(address)


def mail_options(conn: smtplib.SMTP, addresses: str, data: bytes) -> list[str] | None:
    """MAIL FROM parameters for this message; None if the server cannot take its addresses."""
    options = []
    if not data.isascii() and conn.has_extn("8bitmime"):
        options.append("BODY=8BITMIME")
    if not addresses.isascii():
        if not conn.has_extn("smtputf8"):
            return None
        options.append("SMTPUTF8")
    return options


def commands(sender: str, recipient: str, options: list[str]) -> bytes:
    """MAIL, RCPT and DATA for one message, as one write."""
    parameters = "".join(f" {option}" for option in options)
    return f"MAIL FROM:<{sender}>{parameters}\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode()


def envelope_refusal(conn: smtplib.SMTP) -> tuple[int, bytes] | None:
    """Read the replies to pipelined MAIL, RCPT and DATA: None when the server waits for the
    message (354), else the first refusal (the connection is then ready for RSET)."""
    replies = [conn.getreply() for _ in range(3)]
    return _refusal(conn, replies)


def transaction(
    conn: smtplib.SMTP, sender: str, recipient: str, options: list[str], stuffed: bytes
) -> tuple[int, bytes]:
    """Hand one message over (`stuffed`: its bytes, dot-stuffed, ending with CRLF); the reply
    that decides it: the first refusal, or the last word.

    A 2xx reply means the server took the message. Anything else leaves the connection
    ready for RSET. A dropped connection raises `smtplib.SMTPServerDisconnected` or
    `OSError`, as `smtplib` does.
    """
    encoded = commands(sender, recipient, options)
    if conn.has_extn("pipelining"):
        conn.send(encoded)
        refusal = envelope_refusal(conn)
    else:
        replies = []
        for command in encoded.splitlines(keepends=True):
            conn.send(command)
            replies.append(conn.getreply())
            if not _accepted(replies[-1][0], len(replies)):
                break
        refusal = _refusal(conn, replies)
    if refusal is not None:
        return refusal
    conn.send(stuffed + END_OF_DATA)
    return conn.getreply()


def _refusal(conn: smtplib.SMTP, replies: list[tuple[int, bytes]]) -> tuple[int, bytes] | None:
    """The first refusal among the replies to MAIL, RCPT and DATA, if any; a DATA the server
    took though its recipient was refused is ended at once, without the message."""
    refusal = next(
        (reply for step, reply in enumerate(replies, 1) if not _accepted(reply[0], step)),
        None,
    )
    if refusal is not None and replies[-1][0] == 354:
        conn.send(END_OF_DATA)
        conn.getreply()
    return refusal


def _accepted(code: int, step: int) -> bool:
    """Whether the reply to MAIL (1), RCPT (2) or DATA (3) lets the transaction go on."""
    return code == 354 if step == 3 else code in (250, 251)
