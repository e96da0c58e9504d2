"""RFC 5322 messages: multipart text + HTML, UTF-8, with one-click unsubscribe headers."""

from __future__ import annotations

import re
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr

from outreach.transports.base import OutgoingEmail

WIRE_POLICY = SMTP.clone(max_line_length=998)
"""CRLF line ends; long headers stay on one line rather than being folded into encoded
words, which would break the `List-Unsubscribe` URL for mail clients (RFC 5322 allows 998)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def header_safe(value: str) -> str:
    """One line: CR, LF and other control characters can never start a new header."""
    return _CONTROL.sub(" ", value).strip()


def build_message(email: OutgoingEmail, date: datetime) -> EmailMessage:
    """The email as a MIME message (the outbox and SMTP transports send exactly this)."""
    message = EmailMessage(policy=WIRE_POLICY)
    message["From"] = formataddr((header_safe(email.from_name), email.from_email))
    message["To"] = formataddr((header_safe(email.to_name), email.to_email))
    message["Subject"] = header_safe(email.subject)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = email.message_id
    for name, value in email.headers.items():
        message[name] = header_safe(value)
    message.set_content(email.text, charset="utf-8")
    message.add_alternative(email.html, subtype="html", charset="utf-8")
    message["Content-Language"] = email.language  # after the body: set_content clears it
    return message
