"""The SendGrid Event Webhook: signed batches of delivery events, each applied once.

SendGrid signs `timestamp + raw body` with ECDSA P-256 (the Signed Event Webhook); the
verification key comes from its Mail Settings as base64 DER. Unsigned webhooks are refused
unless OUTREACH_WEBHOOK_INSECURE=1 says so for local testing. Each event carries the
`custom_args` the SendGrid transport set (campaign, reminder, supporter_id, channel) as
top-level keys, which map it back to its occurrence in the ledger.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from sendgrid.helpers.eventwebhook import EventWebhook, EventWebhookHeader
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from outreach.config import SPAM_PAUSE_RATE
from outreach.errors import OutreachError
from outreach.messages import Channel
from outreach.store.feedback import KINDS, ProviderEvent, apply_events

log = logging.getLogger("outreach.web")

MAX_SKEW = timedelta(minutes=10)
"""A signed request older (or newer) than this is refused: a replay, or a wrong clock."""

ADDRESS_EVENTS = frozenset({"spamreport", "unsubscribe", "group_unsubscribe"})
SENDER_DROPS = ("spam content", "invalid smtpapi header", "recipient list over package quota")
"""Reasons SendGrid drops an email that are about the message or the account, not the address."""

MAX_ID = 2**31 - 1


class SignatureCheck:
    """Verifies the Signed Event Webhook with SendGrid's own helper."""

    def __init__(self, public_key: str) -> None:
        try:
            webhook = EventWebhook(public_key.strip())
        except (ValueError, TypeError, UnsupportedAlgorithm):
            webhook = None
        if webhook is None or not isinstance(webhook.public_key, ec.EllipticCurvePublicKey):
            raise OutreachError(
                "SENDGRID_WEBHOOK_PUBLIC_KEY is not a verification key: paste the public key "
                "from SendGrid's Mail Settings > Event Webhook > Signature Verification"
            )
        self._webhook = webhook

    def problem(
        self, body: bytes, signature: str | None, timestamp: str | None, now: datetime
    ) -> str | None:
        """Why the request must be refused, or None when SendGrid signed it just now."""
        if not signature or not timestamp:
            return "unsigned request"
        try:
            signed_at = datetime.fromtimestamp(int(timestamp), UTC)
        except (ValueError, OverflowError, OSError):
            return "bad timestamp"
        if abs(now - signed_at) > MAX_SKEW:
            return "stale timestamp"
        try:
            valid = self._webhook.verify_signature(body.decode("utf-8"), signature, timestamp)
        except ValueError:  # not UTF-8, not base64
            valid = False
        return None if valid else "bad signature"


def _text(item: Mapping[str, Any], key: str, limit: int) -> str:
    value = item.get(key)
    return value[:limit] if isinstance(value, str) else ""


def _key(item: Mapping[str, Any], key: str) -> str:
    """A custom argument naming a campaign or reminder; too long to be ours reads as none."""
    value = _text(item, key, 101)
    return value if len(value) <= 100 else ""


def _supporter_id(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
    else:
        return None
    return number if 0 < number <= MAX_ID else None


def _occurred_at(value: Any, now: datetime) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (ValueError, OverflowError, OSError):
            pass
    return now


def _event_id(item: Mapping[str, Any]) -> str:
    """SendGrid's id, or a digest of the event itself when it has none."""
    given = item.get("sg_event_id")
    if isinstance(given, str) and given and len(given) <= 200:
        return given
    canonical = json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8", "replace")).hexdigest()


def _suppresses(kind: str, item: Mapping[str, Any], reason: str) -> bool:
    """Whether this event means the address must never be emailed again."""
    if kind in ADDRESS_EVENTS:
        return True
    if kind == "bounce":  # a block is about the sender's reputation, not the address
        return item.get("type") != "blocked"
    if kind == "dropped":
        return not reason.lower().startswith(SENDER_DROPS)
    return False


def parse_event(item: Mapping[str, Any], now: datetime) -> ProviderEvent | None:
    """One SendGrid event as outreach reads it, or None for kinds outreach ignores."""
    kind = item.get("event")
    if not isinstance(kind, str) or kind not in KINDS:
        return None
    reason = _text(item, "reason", 2000) or _text(item, "response", 2000)
    status = _text(item, "status", 20)
    if status and reason and kind == "bounce":
        reason = f"{status} {reason}"
    email = _text(item, "email", 400)
    return ProviderEvent(
        event_id=_event_id(item),
        kind=kind,
        email=email if len(email) <= 320 and "@" in email else "",
        occurred_at=_occurred_at(item.get("timestamp"), now),
        campaign=_key(item, "campaign"),
        reminder=_key(item, "reminder"),
        supporter_id=_supporter_id(item.get("supporter_id")),
        channel=_text(item, "channel", 20) or Channel.EMAIL,
        reason=reason,
        suppress=_suppresses(kind, item, reason),
    )


def parse_events(payload: Any, now: datetime) -> tuple[list[ProviderEvent], int]:
    """The events of a webhook body and how many were ignored; ValueError if not a batch."""
    if not isinstance(payload, list):
        raise ValueError("expected a JSON list of events")
    parsed = [parse_event(item, now) if isinstance(item, dict) else None for item in payload]
    kept = [event for event in parsed if event is not None]
    return kept, len(parsed) - len(kept)


class SendGridWebhook:
    """`POST /webhooks/sendgrid`."""

    def __init__(
        self,
        engine: Engine,
        check: SignatureCheck | None,
        *,
        insecure: bool,
        clock: Callable[[], datetime],
        pause_rate: float = SPAM_PAUSE_RATE,
    ) -> None:
        self.engine = engine
        self.pause_rate = pause_rate
        self.check = check
        self.insecure = insecure
        self.clock = clock

    async def receive(self, request: Request) -> JSONResponse:
        """Verify, parse and apply one batch of events."""
        if self.check is None and not self.insecure:
            return _refuse(
                403,
                "the SendGrid webhook is off: set SENDGRID_WEBHOOK_PUBLIC_KEY to the Signed "
                "Event Webhook verification key",
            )
        body = await request.body()
        now = self.clock()
        if self.check is not None:
            problem = self.check.problem(
                body,
                request.headers.get(EventWebhookHeader.SIGNATURE),
                request.headers.get(EventWebhookHeader.TIMESTAMP),
                now,
            )
            if problem:
                log.warning("webhook refused: %s", problem)
                return _refuse(403, problem)
        try:
            provider_events, ignored = parse_events(json.loads(body), now)
        except (ValueError, RecursionError) as exc:
            return _refuse(400, f"not a SendGrid event batch: {str(exc)[:100]}")
        report = await run_in_threadpool(
            apply_events, self.engine, provider_events, now, self.pause_rate
        )
        log.info(
            "webhook: applied %d, duplicates %d, ignored %d, suppressed %d",
            report.applied,
            report.duplicates,
            ignored,
            report.suppressed,
        )
        for campaign, reason in report.paused.items():
            log.warning(
                "campaign %s paused: %s; resume with `outreach campaign resume %s`",
                campaign,
                reason,
                campaign,
            )
        return JSONResponse(
            {
                "applied": report.applied,
                "duplicates": report.duplicates,
                "ignored": ignored,
                "paused": sorted(report.paused),
            }
        )


def _refuse(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)
