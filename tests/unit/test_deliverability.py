"""What mailbox providers look at: hidden text, list headers, Message-IDs, folded subjects."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from outreach.campaign.loader import load_schedule
from outreach.delivery.compose import Composer
from outreach.delivery.identity import feedback_id, list_id, message_id
from outreach.messages import Content, OutgoingEmail
from outreach.rendering.renderer import Renderer
from outreach.timeline import reminder_sends
from outreach.tokens import TokenSigner
from outreach.transports.mime import wire_bytes

REPO = Path(__file__).resolve().parents[2]


def test_the_preheader_is_hidden_by_display_not_by_a_colour_trick() -> None:
    layout = (REPO / "templates" / "_layout.j2").read_text(encoding="utf-8")
    style = re.search(r'class="preheader" style="([^"]*)"', layout)
    assert style is not None
    declarations = {d.split(":")[0].strip() for d in style.group(1).split(";") if d.strip()}
    assert {"display", "max-height", "overflow", "mso-hide", "opacity"} <= declarations
    assert "color" not in declarations


def _occurrence(supporter: int = 7) -> tuple[str, str, int, str, datetime]:
    fires = datetime(2018, 3, 1, 14, 0, tzinfo=UTC)
    return ("mexico-refugees", "two-weeks-before", supporter, "fiona@example.org", fires)


def test_message_ids_are_stable_per_occurrence_and_unique_per_installation() -> None:
    here, there = TokenSigner("a" * 32), TokenSigner("b" * 32)
    first = message_id(here, _occurrence(), "example.org")
    assert re.fullmatch(r"<[0-9a-f]{32}@example\.org>", first)
    assert message_id(TokenSigner("a" * 32), _occurrence(), "example.org") == first
    assert message_id(there, _occurrence(), "example.org") != first
    assert message_id(here, _occurrence(8), "example.org") != first


def test_list_id_names_the_campaign_as_rfc_2919_asks() -> None:
    assert (
        list_id("Protect refugees in Mexico", "mexico-refugees", "Example.org")
        == "Protect refugees in Mexico <mexico-refugees.example.org>"
    )
    assert list_id("Act: now, please", "c", "example.org") == '"Act: now, please" <c.example.org>'
    encoded = list_id("Protéger les réfugiés", "c", "example.org")
    assert (
        encoded.isascii() and encoded.startswith("=?utf-8?") and encoded.endswith("<c.example.org>")
    )


def test_feedback_id_has_googles_four_fields() -> None:
    value = feedback_id("mexico-refugees", "queued-12", "example.org")
    assert value == "mexico-refugees:queued-12:reminder:example.org"
    assert feedback_id("a:b", "c", "d").count(":") == 3


def _wire(subject: str, headers: dict[str, str] | None = None) -> bytes:
    email = OutgoingEmail(
        supporter_id=7,
        campaign="c",
        reminder="r",
        to_email="fiona@example.org",
        to_name="Fiona MacDonald",
        from_email="info@example.org",
        from_name="Amnesty International Canada",
        content=Content(subject, "Hello\n", "<p>Hello</p>"),
        language="en",
        message_id="<x@example.org>",
        headers=headers or {},
    )
    return wire_bytes(email, datetime(2018, 3, 1, tzinfo=UTC))


LONG = (
    "Fiona, will you write to the Minister of Foreign Affairs before the Bilateral "
    "Canada-Mexico Human Rights Dialogue on March 15, 2018?"
)


@pytest.mark.parametrize("subject", [LONG, LONG.replace("Fiona", "Amélie"), "Short"])
def test_long_subjects_are_folded_within_78_characters(subject: str) -> None:
    raw = _wire(subject, {"List-Id": list_id("Protect refugees in Mexico " * 3, "c", "e.org")})
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n")), head.decode()
    message = message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == subject


def test_a_url_header_stays_whole_on_its_line() -> None:
    url = "<https://act.example.org/u/" + "t" * 120 + ">"
    assert f"\r\nList-Unsubscribe: {url}\r\n".encode() in _wire("s", {"List-Unsubscribe": url})


def test_every_composed_email_names_its_list_and_feedback_loop_and_has_its_own_id() -> None:
    schedule = load_schedule(REPO / "schedules.yaml")
    renderer = Renderer(schedule, REPO / "templates")
    row = {
        "id": 1,
        "email": "fiona@example.org",
        "first_name": "Fiona",
        "last_name": "MacDonald",
        "city": "Halifax",
        "region": "NS",
        "language": "en",
        "timezone": "America/Halifax",
        "fields": "{}",
        "zone": "America/Halifax",
    }
    ids = set()
    for secret in ("a" * 32, "b" * 32):
        composer = Composer(schedule, renderer, TokenSigner(secret), "https://act.example.org")
        for send in reminder_sends(schedule):
            email = composer.compose(send, row)
            title = send.campaign.title.resolve("en", "en")
            assert email.send_headers["List-Id"] == f"{title} <{send.campaign.id}.example.org>"
            assert email.send_headers["Feedback-ID"] == (
                f"{send.campaign.id}:{send.key}:reminder:example.org"
            )
            assert composer.compose(send, row).message_id == email.message_id
            ids.add(email.message_id)
    assert len(ids) == 2 * len(list(reminder_sends(schedule)))
