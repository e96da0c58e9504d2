"""The MIME message: one-click headers kept whole, hostile names kept out of the headers."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.messages import Content, OutgoingEmail, Skeleton
from outreach.transports.mime import BOUNDARY, stuffed, wire_bytes

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
    content = Content(values.pop("subject"), values.pop("text"), values.pop("html"))
    return OutgoingEmail(**values, content=content)  # type: ignore[arg-type]


def test_dot_stuffing_doubles_every_leading_dot_and_only_those() -> None:
    assert stuffed(b".a\r\nb.c\r\n..d\r\n.\r\n") == b"..a\r\nb.c\r\n...d\r\n..\r\n"
    assert stuffed(b"no dots at line starts.\r\n") == b"no dots at line starts.\r\n"


def _parsed(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_round_trip_with_crlf_and_an_unfolded_list_unsubscribe() -> None:
    raw = wire_bytes(_email(), datetime(2018, 3, 1, tzinfo=UTC))
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
    raw = wire_bytes(hostile, datetime(2018, 3, 1, tzinfo=UTC))
    message = _parsed(raw)
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert b"\r\nBcc:" not in raw and b"\r\nX-Injected:" not in raw


def _skeleton_email(text: str, html: str, values: dict[str, str]) -> OutgoingEmail:
    """An email filled from a skeleton with `values`, as compose makes it."""
    skeleton = Skeleton("Subject -{{first_name}}", text, html, "fr")
    subject, filled_text, filled_html = skeleton.fill(values)
    filled = _email(subject=subject, text=filled_text, html=filled_html)
    return replace(filled, content=None, skeleton=skeleton, substitutions=values)


_LINES = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200),
        st.just("-{{first_name}}"),
        st.just("."),
        st.just(".-{{first_name}}"),
        st.just("a line with -{{first_name}} and -{{city:html}} = 100% ."),
    ),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(
    lines=_LINES,
    first_name=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40),
)
def test_a_skeleton_encodes_to_the_same_bytes_as_its_filled_email(
    lines: list[str], first_name: str
) -> None:
    values = {"-{{first_name}}": first_name, "-{{city:html}}": "Trois-Rivi&egrave;res"}
    body = "\n".join(lines)
    shared = _skeleton_email(body, f"<p>{body}</p>", values)
    alone = _email(subject=shared.subject, text=shared.text, html=shared.html)
    date = datetime(2018, 3, 1, tzinfo=UTC)

    raw = wire_bytes(shared, date)
    assert raw == wire_bytes(alone, date)
    assert not re.search(rb"(?<!\r)\n|\r(?!\n)", raw)  # CRLF only: nothing to smuggle
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    body_lines = raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n")
    assert all(len(line) <= 76 for line in body_lines)
    for email in (shared, alone):  # twice: the second time from what was remembered
        for _ in range(2):
            assert wire_bytes(email, date, dot_stuffed=True) == stuffed(raw)
    assert body_lines.count(b"--" + BOUNDARY.encode()) == 2  # never inside a body
    plain = _parsed(raw).get_body(("plain",))
    assert plain is not None
    expected = shared.text.replace("\r\n", "\n").replace("\r", "\n")
    assert plain.get_content().replace("\r\n", "\n") == expected


def test_non_ascii_names_come_back_whole_and_absurd_ones_stay_within_the_line_limit() -> None:
    name = "Marie-Ève Léonie-Côté de Saint-Jean-sur-Richelieu, Québec"
    raw = wire_bytes(_email(to_name=name), datetime(2018, 3, 1, tzinfo=UTC))
    assert _parsed(raw)["To"].addresses[0].display_name == name
    absurd = wire_bytes(_email(to_name="Léonie " * 400), datetime(2018, 3, 1, tzinfo=UTC))
    assert max(len(line) for line in absurd.split(b"\r\n")) <= 998
    assert _parsed(absurd)["To"].addresses[0].addr_spec == "amelie@example.org"


def test_an_internationalized_address_is_written_in_utf8_for_smtputf8() -> None:
    raw = wire_bytes(_email(to_email="zoé@exemple.ca"), datetime(2018, 3, 1, tzinfo=UTC))
    assert "\r\nTo: Amélie Tremblay <zoé@exemple.ca>\r\n".encode() in raw
    spec = _parsed(raw)["To"].addresses[0].addr_spec  # the parser keeps raw bytes escaped
    assert spec.encode("ascii", "surrogateescape").decode() == "zoé@exemple.ca"
