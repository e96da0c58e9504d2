"""`POST /webhooks/sendgrid` on a real server: real ECDSA P-256 signatures, replays, the guard."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from outreach.app import App
from outreach.delivery.reports import status
from outreach.delivery.sends import all_sends
from outreach.errors import OutreachError
from outreach.store import ledger
from outreach.store.feedback import paused_campaigns, resume
from outreach.store.schema import events
from outreach.store.schema import ledger as ledger_table
from outreach.web.app import create_app
from outreach.worker.wiring import build_dispatcher
from tests.integration.web_support import (
    SECRET,
    demo_app,
    record_sent,
    serving,
    supporter_id,
    suppressed,
)

NOW = datetime(2018, 3, 2, 12, 0, tzinfo=UTC)  # the server's clock in these tests
CAMPAIGN, REMINDER = "mexico-refugees", "two-weeks-before"
DAY_BEFORE_DUE = datetime(2018, 3, 15, 2, 0, tzinfo=UTC)  # 18:00 has passed everywhere


@pytest.fixture(scope="module")
def private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_key_text(key: ec.EllipticCurvePrivateKey) -> str:
    """The verification key as SendGrid shows it: base64 DER SubjectPublicKeyInfo."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def signed_headers(
    key: ec.EllipticCurvePrivateKey, body: bytes, at: datetime = NOW
) -> dict[str, str]:
    timestamp = str(int(at.timestamp()))
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }


def event(kind: str, email: str, sid: int | None, event_id: str, **extra: Any) -> dict[str, Any]:
    """A SendGrid event echoing the custom_args the SendGrid transport sets."""
    item: dict[str, Any] = {
        "email": email,
        "timestamp": int(NOW.timestamp()) - 60,
        "event": kind,
        "sg_event_id": event_id,
        "sg_message_id": f"msg-{event_id}",
        **extra,
    }
    if sid is not None:
        item |= {
            "campaign": CAMPAIGN,
            "reminder": REMINDER,
            "supporter_id": str(sid),
            "channel": "email",
        }
    return item


@pytest.fixture
def app(database_url: str, tmp_path: Path, private_key: ec.EllipticCurvePrivateKey) -> App:
    built = demo_app(
        database_url, tmp_path, SENDGRID_WEBHOOK_PUBLIC_KEY=public_key_text(private_key)
    )
    record_sent(built, CAMPAIGN, REMINDER, [supporter_id(built, "amelie.tremblay@example.org")])
    return built


@pytest.fixture
def base(app: App) -> Iterator[str]:
    with serving(create_app(app, clock=lambda: NOW)) as url:
        yield url


def post(base: str, key: ec.EllipticCurvePrivateKey, batch: list[dict[str, Any]]) -> httpx.Response:
    body = json.dumps(batch).encode()
    return httpx.post(f"{base}/webhooks/sendgrid", content=body, headers=signed_headers(key, body))


def ledger_row(app: App, sid: int) -> Any:
    with app.engine.connect() as conn:
        return conn.execute(
            select(ledger_table).where(
                ledger_table.c.supporter_id == sid, ledger_table.c.reminder == REMINDER
            )
        ).one()


def stored_events(app: App) -> int:
    with app.engine.connect() as conn:
        return len(conn.execute(select(events.c.event_id)).all())


def test_signed_events_suppress_and_reach_the_ledger_and_status(
    app: App, base: str, private_key: ec.EllipticCurvePrivateKey
) -> None:
    amelie = supporter_id(app, "amelie.tremblay@example.org")
    batch = [
        event("deferred", "amelie.tremblay@example.org", amelie, "e1", response="421 try later"),
        event("delivered", "amelie.tremblay@example.org", amelie, "e2", response="250 OK"),
        event(
            "bounce",
            "fiona.macdonald@example.org",
            9001,
            "e3",
            type="bounce",
            status="5.1.1",
            reason="550 5.1.1 no such user",
        ),
        event("dropped", "genevieve.roy@example.org", 9002, "e4", reason="Bounced Address"),
        event("spamreport", "mathieu.bouchard@example.org", 9003, "e5"),
        event("unsubscribe", "u1@example.org", 9004, "e6"),
        event("group_unsubscribe", "u2@example.org", 9005, "e7", asm_group_id=12),
        event("bounce", "blocked@example.org", 9006, "e8", type="blocked", reason="IP listed"),
        event("dropped", "content@example.org", 9007, "e9", reason="Spam Content"),
        event("open", "amelie.tremblay@example.org", amelie, "e10"),
    ]
    answer = post(base, private_key, batch)
    assert answer.status_code == 200
    assert answer.json() == {"applied": 9, "duplicates": 0, "ignored": 1, "paused": [CAMPAIGN]}

    found = suppressed(app)
    assert {email: reason for email, (reason, _, _) in found.items()} == {
        "fiona.macdonald@example.org": "bounce",
        "genevieve.roy@example.org": "dropped",
        "mathieu.bouchard@example.org": "spamreport",
        "u1@example.org": "unsubscribe",
        "u2@example.org": "group_unsubscribe",
    }
    assert found["fiona.macdonald@example.org"][1] == (
        "5.1.1 550 5.1.1 no such user (campaign mexico-refugees, reminder two-weeks-before)"
    )
    row = ledger_row(app, amelie)
    assert (row.state, row.detail) == (ledger.SENT, "delivered: 250 OK")

    rows = status(app.schedule, app.engine, all_sends(app.schedule, app.engine), NOW)
    two_weeks = next(r for r in rows if r.reminder == REMINDER)
    assert (two_weeks.delivered, two_weeks.bounces, two_weeks.spam_reports) == (1, 2, 1)
    assert two_weeks.paused == "spam reports at 100.00% of delivered (1 of 1)"


def test_a_late_deferral_never_hides_the_delivery(
    app: App, base: str, private_key: ec.EllipticCurvePrivateKey
) -> None:
    amelie = supporter_id(app, "amelie.tremblay@example.org")
    post(base, private_key, [event("delivered", "amelie.tremblay@example.org", amelie, "d1")])
    post(base, private_key, [event("deferred", "amelie.tremblay@example.org", amelie, "d2")])
    assert ledger_row(app, amelie).detail == "delivered"


def test_replayed_events_change_nothing(
    app: App, base: str, private_key: ec.EllipticCurvePrivateKey
) -> None:
    batch = [
        event("bounce", "fiona.macdonald@example.org", 9001, "r1", type="bounce", reason="gone"),
        event("delivered", "amelie.tremblay@example.org", 9002, "r2"),
    ]
    assert post(base, private_key, batch).json()["applied"] == 2
    before = (suppressed(app), stored_events(app))
    again = post(base, private_key, batch)
    assert again.status_code == 200
    assert again.json() == {"applied": 0, "duplicates": 2, "ignored": 0, "paused": []}
    assert (suppressed(app), stored_events(app)) == before


def test_an_event_without_sendgrid_id_is_applied_once_by_its_content(
    app: App, base: str, private_key: ec.EllipticCurvePrivateKey
) -> None:
    item = event("dropped", "old@example.org", None, "", reason="Invalid")
    del item["sg_event_id"]
    assert post(base, private_key, [item]).json()["applied"] == 1
    assert post(base, private_key, [item]).json()["duplicates"] == 1
    reason, detail, _ = suppressed(app)["old@example.org"]
    assert (reason, detail) == ("dropped", "Invalid (reported by the email provider)")


def test_a_provider_event_settles_an_uncertain_claim(
    app: App, base: str, private_key: ec.EllipticCurvePrivateKey
) -> None:
    fiona = supporter_id(app, "fiona.macdonald@example.org")
    ledger.claim(app.engine, CAMPAIGN, REMINDER, "email", [fiona], NOW)  # the run died here
    post(base, private_key, [event("delivered", "fiona.macdonald@example.org", fiona, "u1")])
    row = ledger_row(app, fiona)
    assert (row.state, row.detail) == (ledger.SENT, "delivered")
    assert ledger.uncertain_batches(app.engine) == []


@pytest.mark.parametrize(
    "problem",
    ["unsigned", "other key", "tampered body", "stale", "future", "garbage signature"],
)
def test_unsigned_badly_signed_and_stale_requests_are_refused(
    app: App, base: str, private_key: ec.EllipticCurvePrivateKey, problem: str
) -> None:
    body = json.dumps([event("spamreport", "fiona.macdonald@example.org", 1, "x1")]).encode()
    headers = signed_headers(private_key, body)
    if problem == "unsigned":
        headers = {"Content-Type": "application/json"}
    elif problem == "other key":
        headers = signed_headers(ec.generate_private_key(ec.SECP256R1()), body)
    elif problem == "tampered body":
        body = body.replace(b"fiona.macdonald", b"amelie.tremblay")
    elif problem == "stale":
        headers = signed_headers(private_key, body, NOW - timedelta(minutes=11))
    elif problem == "future":
        headers = signed_headers(private_key, body, NOW + timedelta(minutes=11))
    else:
        headers["X-Twilio-Email-Event-Webhook-Signature"] = "not base64 at all!"
    answer = httpx.post(f"{base}/webhooks/sendgrid", content=body, headers=headers)
    assert answer.status_code == 403
    assert "error" in answer.json()
    assert suppressed(app) == {} and stored_events(app) == 0


def test_a_signature_just_inside_the_window_is_accepted(
    app: App, base: str, private_key: ec.EllipticCurvePrivateKey
) -> None:
    body = json.dumps([event("spamreport", "fiona.macdonald@example.org", None, "w1")]).encode()
    headers = signed_headers(private_key, body, NOW - timedelta(minutes=9))
    answer = httpx.post(f"{base}/webhooks/sendgrid", content=body, headers=headers)
    assert answer.status_code == 200


def test_without_a_key_webhooks_are_refused_unless_insecure_is_explicit(
    database_url: str, tmp_path: Path
) -> None:
    body = json.dumps([event("bounce", "fiona.macdonald@example.org", None, "i1")]).encode()
    refusing = demo_app(database_url, tmp_path)
    with serving(create_app(refusing, clock=lambda: NOW)) as base:
        answer = httpx.post(f"{base}/webhooks/sendgrid", content=body)
    assert answer.status_code == 403
    assert "SENDGRID_WEBHOOK_PUBLIC_KEY" in answer.json()["error"]
    assert suppressed(refusing) == {}

    insecure = App(refusing.settings.model_copy(update={"webhook_insecure": True}))
    with serving(create_app(insecure, clock=lambda: NOW)) as base:
        answer = httpx.post(f"{base}/webhooks/sendgrid", content=body)
    assert answer.status_code == 200
    assert suppressed(insecure)["fiona.macdonald@example.org"][0] == "bounce"


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"event": "bounce"}', b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe"],
    ids=["not json", "not a list", "deeply nested", "not utf-8"],
)
def test_malformed_batches_are_refused_and_change_nothing(
    app: App, base: str, private_key: ec.EllipticCurvePrivateKey, body: bytes
) -> None:
    answer = httpx.post(
        f"{base}/webhooks/sendgrid", content=body, headers=signed_headers(private_key, body)
    )
    assert answer.status_code in (400, 403)  # bytes that are not UTF-8 cannot carry a signature
    assert stored_events(app) == 0


def test_bodies_over_one_mebibyte_get_413_whether_declared_or_streamed(app: App, base: str) -> None:
    big = b"[" + b" " * (1024 * 1024) + b"]"
    declared = httpx.post(f"{base}/webhooks/sendgrid", content=big)
    assert declared.status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b" " * 65536

    streamed = httpx.post(f"{base}/webhooks/sendgrid", content=chunks())
    assert streamed.status_code == 413


def test_spam_reports_over_the_threshold_pause_the_campaign_until_resumed(
    app: App, base: str, private_key: ec.EllipticCurvePrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    delivered = [event("delivered", f"p{i}@example.org", 5000 + i, f"d{i}") for i in range(1000)]
    first = post(base, private_key, [*delivered, event("spamreport", "a@example.org", 1, "s1")])
    assert first.json()["paused"] == []  # 1 of 1000 delivered: 0.1%, on the line
    second = post(base, private_key, [event("spamreport", "b@example.org", 2, "s2")])
    assert second.json()["paused"] == [CAMPAIGN]
    assert paused_campaigns(app.engine) == {
        CAMPAIGN: "spam reports at 0.20% of delivered (2 of 1000)"
    }

    with caplog.at_level(logging.WARNING, logger="outreach.delivery.dispatch"):
        skipped = build_dispatcher(app, lambda: DAY_BEFORE_DUE).run_once(DAY_BEFORE_DUE)
    assert skipped.sends == []
    assert (
        "campaign mexico-refugees is paused: spam reports at 0.20% of delivered (2 of 1000); "
        "resume with `outreach campaign resume mexico-refugees`"
    ) in caplog.messages

    assert resume(app.engine, CAMPAIGN)
    replay = post(base, private_key, [event("spamreport", "b@example.org", 2, "s2")])
    assert replay.json()["paused"] == []  # a replay is no new report
    sent = build_dispatcher(app, lambda: DAY_BEFORE_DUE).run_once(DAY_BEFORE_DUE)
    assert [(s.campaign, s.reminder) for s in sent.sends] == [(CAMPAIGN, "day-before")]


def test_a_bad_verification_key_stops_the_app_from_starting(
    database_url: str, tmp_path: Path
) -> None:
    app = demo_app(database_url, tmp_path, SENDGRID_WEBHOOK_PUBLIC_KEY="bm90IGEga2V5")
    with pytest.raises(OutreachError, match="SENDGRID_WEBHOOK_PUBLIC_KEY is not a verification"):
        create_app(app)


def test_an_unexpected_error_answers_without_trace_or_secret(
    app: App, base: str, private_key: ec.EllipticCurvePrivateKey
) -> None:
    events.drop(app.engine)
    answer = post(base, private_key, [event("bounce", "x@example.org", None, "boom")])
    assert answer.status_code == 500
    assert answer.json() == {"error": "internal error"}
    assert SECRET not in answer.text
