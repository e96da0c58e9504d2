"""Pure rules of the feedback loop: the spam guard, reading SendGrid events, masking."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from outreach.store.feedback import spam_pause_reason, spam_rate
from outreach.web.pages import mask_email
from outreach.web.webhook import parse_event, parse_events

NOW = datetime(2018, 3, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("spam", "delivered", "sent", "reason"),
    [
        (0, 1000, 1000, None),
        (1, 1000, 1000, None),  # exactly 0.1% is still allowed
        (2, 1000, 1000, "spam reports at 0.20% of delivered (2 of 1000)"),
        (3, 1000, 1000, "spam reports at 0.30% of delivered (3 of 1000)"),
        (1, 0, 49, "spam reports at 2.04% of sent (1 of 49)"),  # no delivery reported yet
        (1, 1000, 0, None),
        (2, 400, 1000, "spam reports at 0.50% of delivered (2 of 400)"),
        (1, 0, 0, "spam reports at 100.00% of sent (1 of 1)"),
    ],
)
def test_the_spam_guard_pauses_above_one_per_thousand(
    spam: int, delivered: int, sent: int, reason: str | None
) -> None:
    assert spam_pause_reason(spam, delivered, sent) == reason


def test_the_pause_rate_can_be_set() -> None:
    assert spam_pause_reason(2, 1000, 1000, pause_rate=0.002) is None
    assert spam_pause_reason(1, 1000, 1000, pause_rate=0.0005) is not None


def test_the_spam_rate_is_over_delivered_else_sent() -> None:
    assert spam_rate(1, 200, 1000) == (0.005, 200, "delivered")
    assert spam_rate(1, 0, 1000) == (0.001, 1000, "sent")
    assert spam_rate(0, 0, 0) == (0.0, 0, "sent")


def item(**values: Any) -> dict[str, Any]:
    return {"email": "a@example.org", "timestamp": 1519992000, "sg_event_id": "e1", **values}


@pytest.mark.parametrize(
    ("values", "suppresses"),
    [
        ({"event": "bounce", "type": "bounce"}, True),
        ({"event": "bounce", "type": "blocked"}, False),  # the sender's reputation, not the address
        ({"event": "dropped", "reason": "Bounced Address"}, True),
        ({"event": "dropped", "reason": "Unsubscribed Address"}, True),
        ({"event": "dropped", "reason": "Spam Content (if enabled)"}, False),
        ({"event": "spamreport"}, True),
        ({"event": "unsubscribe"}, True),
        ({"event": "group_unsubscribe", "asm_group_id": 1}, True),
        ({"event": "delivered"}, False),
        ({"event": "deferred", "response": "421 later"}, False),
    ],
)
def test_which_events_suppress_the_address(values: dict[str, Any], suppresses: bool) -> None:
    event = parse_event(item(**values), NOW)
    assert event is not None
    assert event.suppress is suppresses


def test_custom_args_map_an_event_back_to_its_occurrence() -> None:
    event = parse_event(
        item(
            event="bounce",
            status="5.1.1",
            reason="550 no such user",
            campaign="mexico-refugees",
            reminder="two-weeks-before",
            supporter_id="42",
            channel="email",
        ),
        NOW,
    )
    assert event is not None
    assert (event.campaign, event.reminder, event.supporter_id) == (
        "mexico-refugees",
        "two-weeks-before",
        42,
    )
    assert event.reason == "5.1.1 550 no such user"
    assert event.occurred_at == datetime(2018, 3, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "values",
    [
        {"supporter_id": "-1"},
        {"supporter_id": "4294967296"},
        {"supporter_id": True},
        {"supporter_id": "١٢"},  # Arabic-Indic digits
        {"campaign": "x" * 101},
        {"timestamp": 10**20},
        {"email": ["a@example.org"]},
    ],
)
def test_odd_values_are_read_as_absent(values: dict[str, Any]) -> None:
    event = parse_event(item(event="delivered", **values), NOW)
    assert event is not None
    if "supporter_id" in values:
        assert event.supporter_id is None
    if "campaign" in values:
        assert event.campaign == ""
    if "timestamp" in values:
        assert event.occurred_at == NOW
    if "email" in values:
        assert event.email == ""


def test_events_outreach_does_not_act_on_are_counted_as_ignored() -> None:
    kept, ignored = parse_events(
        [item(event="open"), item(event="click"), "junk", item(event="delivered")], NOW
    )
    assert [e.kind for e in kept] == ["delivered"]
    assert ignored == 3


def test_a_batch_must_be_a_list() -> None:
    with pytest.raises(ValueError, match="list"):
        parse_events({"event": "bounce"}, NOW)


def test_an_event_without_id_gets_one_from_its_content() -> None:
    first = parse_event(item(event="dropped", sg_event_id=None), NOW)
    again = parse_event(item(event="dropped", sg_event_id=None), NOW)
    other = parse_event(item(event="dropped", sg_event_id=None, email="b@example.org"), NOW)
    assert first and again and other
    assert first.event_id == again.event_id != other.event_id
    assert first.event_id.startswith("sha256:")


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("amelie.tremblay@example.org", "a***@example.org"),
        ("x@example.org", "x***@example.org"),
    ],
)
def test_addresses_are_masked(email: str, masked: str) -> None:
    assert mask_email(email) == masked
