"""The MIME message: one-click headers kept whole, hostile names kept out of the headers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

from outreach.message import build_message
from outreach.transports.base import OutgoingEmail

URL = "https://act.example.org/u/" + "t" * 120


def _email(**changes: str) -> OutgoingEmail:
    values = {
        "supporter_id": 7,
        "campaign": "c",
        "reminder": "r",
        "to_email": "amelie@example.org",
        "to_name": "Amélie Tremblay",
        "from_email": "info@example.org",
        "from_name": "Amnistie internationale Canada",
        "subject": "Amélie, écrirez-vous à la ministre des Affaires étrangères avant le 15 mars ?",
        "text": "Bonjour Amélie,\n\nÀ bientôt.\n",
        "html": "<p>Bonjour Amélie,</p>",
        "language": "fr",
        "message_id": "<c.r.7@example.org>",
        "headers": {
            "List-Unsubscribe": f"<{URL}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    }
    values.update(changes)
    return OutgoingEmail(**values)  # type: ignore[arg-type]


def _parsed(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_round_trip_with_crlf_and_an_unfolded_list_unsubscribe() -> None:
    raw = build_message(_email(), datetime(2018, 3, 1, tzinfo=UTC)).as_bytes()
    assert not re.search(rb"(?<!\r)\n", raw)
    assert f"\r\nList-Unsubscribe: <{URL}>\r\n".encode() in raw
    message = _parsed(raw)
    assert message["Subject"] == _email().subject
    assert message["To"].addresses[0].display_name == "Amélie Tremblay"
    assert message["Content-Language"] == "fr"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    assert plain is not None and "À bientôt." in plain.get_content()


def test_line_breaks_in_a_name_or_subject_cannot_add_headers() -> None:
    hostile = _email(
        to_name="Eve\r\nBcc: victim@example.net",
        subject="Hi\nX-Injected: yes",
    )
    raw = build_message(hostile, datetime(2018, 3, 1, tzinfo=UTC)).as_bytes()
    message = _parsed(raw)
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert b"\r\nBcc:" not in raw and b"\r\nX-Injected:" not in raw
