"""The SendGrid transport: up to 1,000 personalized emails in one Mail Send request.

Emails filled from the same skeleton (`rendering/skeleton.py`) travel together: the skeleton
is the request's subject and content, the headers their send shares are the request's, and
each personalization carries its recipient's substitutions, its ledger key in `custom_args`
(so webhook events map back) and its own unsubscribe link. Emails rendered on their own go
one per request. 429, 5xx and timeouts are retried
with backoff, honouring `X-RateLimit-Reset`; a 400 splits the request until the refused
recipients are isolated, each recorded with SendGrid's message; 401/403 stop everything.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.client import HTTPException
from typing import Any

from python_http_client.exceptions import HTTPError  # type: ignore[import-untyped]
from sendgrid import SendGridAPIClient

from outreach.config import Settings
from outreach.errors import DeliveryError, OutreachError
from outreach.messages import Outcome, OutgoingEmail
from outreach.transports.base import PartialDelivery
from outreach.transports.mime import header_safe
from outreach.transports.retry import backoff_delays, sleep_until_reset

DEFAULT_HOST = "https://api.sendgrid.com"
MAX_PERSONALIZATIONS = 1000
SUBSTITUTIONS_LIMIT = 10_000
"""Bytes of substitutions SendGrid takes per personalization."""
SCHEDULE_LIMIT = timedelta(hours=72)
"""How far ahead SendGrid holds a message (`send_at`)."""

logging.getLogger("python_http_client.client").setLevel(logging.INFO)
"""The SDK logs request headers, API key included, at DEBUG: never let that through."""


@dataclass(frozen=True)
class Retry:
    """How long to keep trying when SendGrid is busy or down (injectable for tests)."""

    attempts: int = 6
    base: float = 1.0
    cap: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    wall: Callable[[], float] = time.time
    """Unix time now, to read `X-RateLimit-Reset` against."""
    rng: random.Random | None = None


@dataclass
class _Request:
    """One Mail Send request: what its emails share, and each one's personalization."""

    shared: dict[str, Any]
    emails: list[OutgoingEmail] = field(default_factory=list)
    personalizations: list[dict[str, Any]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        return {"personalizations": self.personalizations, **self.shared}

    def halves(self) -> tuple[_Request, _Request]:
        middle = len(self.emails) // 2
        return (
            _Request(self.shared, self.emails[:middle], self.personalizations[:middle]),
            _Request(self.shared, self.emails[middle:], self.personalizations[middle:]),
        )


@dataclass(frozen=True)
class _Answer:
    """What SendGrid finally said of a request: accepted, or refused (and may it be split)."""

    accepted: bool
    detail: str
    split: bool = False


class SendGridTransport:
    """Sends emails through SendGrid's v3 Mail Send API with the official SDK."""

    name = "sendgrid"
    batch_size = MAX_PERSONALIZATIONS

    def __init__(
        self,
        api_key: str,
        *,
        clock: Callable[[], datetime],
        host: str = DEFAULT_HOST,
        asm_group: int | None = None,
        sandbox: bool = False,
        timeout: float = 60.0,
        retry: Retry | None = None,
        schedules_ahead: timedelta = timedelta(0),
    ) -> None:
        if not timedelta(0) <= schedules_ahead <= SCHEDULE_LIMIT:
            raise OutreachError("SendGrid holds emails for 72 hours at most")
        self.schedules_ahead = schedules_ahead
        self._client = SendGridAPIClient(api_key=api_key, host=host)
        self._clock = clock
        self._asm_group = asm_group
        self._sandbox = sandbox
        self._timeout = timeout
        self._retry = retry or Retry()

    @classmethod
    def from_settings(cls, settings: Settings, clock: Callable[[], datetime]) -> SendGridTransport:
        """The transport SENDGRID_API_KEY, SENDGRID_HOST and OUTREACH_SENDGRID_* describe."""
        if settings.sendgrid_api_key is None:
            raise OutreachError("SENDGRID_API_KEY is required with the sendgrid transport")
        return cls(
            settings.sendgrid_api_key.get_secret_value().strip(),
            clock=clock,
            host=settings.sendgrid_host,
            asm_group=settings.sendgrid_asm_group,
            sandbox=settings.sendgrid_sandbox,
            schedules_ahead=timedelta(hours=settings.sendgrid_schedule_ahead),
        )

    def send(self, emails: Sequence[OutgoingEmail]) -> list[Outcome]:
        """Hand the emails over, as few requests as their skeletons allow."""
        outcomes: dict[int, Outcome] = {}
        try:
            for request in self._requests(emails):
                self._deliver(request, outcomes)
        except DeliveryError as exc:
            if outcomes:
                raise PartialDelivery(str(exc), list(outcomes.values())) from exc
            raise
        return [outcomes[email.supporter_id] for email in emails]

    def close(self) -> None:
        """Nothing to release: every request has its own connection."""

    def _requests(self, emails: Sequence[OutgoingEmail]) -> Iterator[_Request]:
        """Emails of one skeleton together (up to 1,000 a request), the others one by one."""
        groups: dict[tuple[Any, ...], _Request] = {}
        now = self._clock()
        for email in emails:
            personalization = self._personalization(email, now)
            skeleton = email.skeleton
            if skeleton is None or not _fits(email.substitutions):
                yield _Request(
                    self._shared(email, email.subject, email.text, email.html),
                    [email],
                    [personalization],
                )
                continue
            if email.substitutions:
                personalization["substitutions"] = dict(email.substitutions)
            key = (
                id(skeleton),
                tuple(email.send_headers.items()),
                email.campaign,
                email.reminder,
                email.from_email,
                email.from_name,
            )
            request = groups.get(key)
            if request is None:
                shared = self._shared(email, skeleton.subject, skeleton.text, skeleton.html)
                request = groups[key] = _Request(shared)
            request.emails.append(email)
            request.personalizations.append(personalization)
            if len(request.emails) == MAX_PERSONALIZATIONS:
                yield groups.pop(key)
        yield from groups.values()

    def _shared(self, email: OutgoingEmail, subject: str, text: str, html: str) -> dict[str, Any]:
        """The request-level fields: sender, subject, content, the send's headers (SendGrid
        adds each personalization's own to them), categories, settings."""
        shared: dict[str, Any] = {
            "from": _address(email.from_email, email.from_name),
            "subject": subject,
            "content": [
                {"type": "text/plain", "value": text},
                {"type": "text/html", "value": html},
            ],
            "headers": _one_line_values(email.send_headers),
            "categories": list(dict.fromkeys((email.campaign, email.reminder))),
        }
        if self._asm_group is not None:
            shared["asm"] = {"group_id": self._asm_group}
        if self._sandbox:
            shared["mail_settings"] = {"sandbox_mode": {"enable": True}}
        return shared

    def _personalization(self, email: OutgoingEmail, now: datetime) -> dict[str, Any]:
        """One recipient's envelope: address, ledger key, unsubscribe link, send time."""
        personalization: dict[str, Any] = {
            "to": [_address(email.to_email, email.to_name)],
            "custom_args": {
                "campaign": email.campaign,
                "reminder": email.reminder,
                "supporter_id": str(email.supporter_id),
                "channel": "email",
            },
            "headers": _one_line_values(email.headers),
        }
        if email.send_at is not None:
            ahead = email.send_at - now
            if ahead > SCHEDULE_LIMIT:
                raise DeliveryError(
                    f"an email is due {email.send_at:%Y-%m-%d %H:%M} UTC, more than 72 hours "
                    "ahead: SendGrid cannot hold it that long"
                )
            if ahead > timedelta(0):
                personalization["send_at"] = int(email.send_at.timestamp())
        return personalization

    def _deliver(self, request: _Request, outcomes: dict[int, Outcome]) -> None:
        """Send `request`; on a refusal SendGrid blames on recipients, split it to find them."""
        answer = self._post(request)
        if not answer.accepted and answer.split and len(request.emails) > 1:
            for half in request.halves():
                self._deliver(half, outcomes)
            return
        for email in request.emails:
            outcomes[email.supporter_id] = Outcome(
                email.supporter_id, answer.accepted, answer.detail
            )

    def _post(self, request: _Request) -> _Answer:
        """POST /v3/mail/send, retrying what may pass later; DeliveryError when nothing will."""
        retry = self._retry
        delays = backoff_delays(retry.attempts - 1, retry.base, retry.cap, retry.rng)
        body = request.body()
        while True:
            reset = None
            try:
                response = self._client.client.mail.send.post(
                    request_body=body, timeout=self._timeout
                )
            except HTTPError as exc:
                status, message = int(exc.status_code), _error_message(exc.body)
                if status in (401, 403):
                    raise DeliveryError(f"SendGrid refused the API key ({status})") from None
                if status in (400, 413):
                    about_recipients = status == 413 or _blames_recipients(exc.body)
                    if not about_recipients:  # the request or the sender: nobody's own refusal
                        raise DeliveryError(
                            f"SendGrid refused the request ({status}): {message}; "
                            "fix the sender or the settings"
                        ) from None
                    return _Answer(False, f"SendGrid: {message} ({status})", about_recipients)
                if status != 429 and status < 500:
                    raise DeliveryError(f"SendGrid answered {status}: {message}") from None
                trouble = f"{status} {message}"
                if status == 429:
                    reset = _number(exc.headers.get("X-RateLimit-Reset") if exc.headers else None)
            except (OSError, HTTPException) as exc:
                trouble = f"no answer ({type(exc).__name__})"
            else:
                message_id = response.headers.get("X-Message-Id") if response.headers else None
                return _Answer(True, f"X-Message-Id {message_id}" if message_id else "accepted")
            delay = next(delays, None)
            if delay is None:
                raise DeliveryError(
                    f"SendGrid did not take the batch after {retry.attempts} attempts: {trouble}"
                )
            if reset is not None:
                sleep_until_reset(reset, retry.wall, retry.sleep, retry.cap)
            else:
                retry.sleep(delay)


def _address(email: str, name: str) -> dict[str, str]:
    """A SendGrid address object; the name on one line (no CR/LF can start a header)."""
    address = {"email": email}
    if clean := _one_line(name):
        address["name"] = clean
    return address


def _one_line(value: str) -> str:
    """`value` with no CR, LF or other control character (quick when it has none)."""
    return value if value.isprintable() and value.strip() == value else header_safe(value)


def _one_line_values(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with each value on one line."""
    return {name: _one_line(value) for name, value in headers.items()}


def _fits(substitutions: Mapping[str, str]) -> bool:
    """Whether SendGrid takes this many bytes of substitutions (UTF-8: 4 at most a character)."""
    characters = sum(map(len, substitutions)) + sum(map(len, substitutions.values()))
    if characters * 4 <= SUBSTITUTIONS_LIMIT:
        return True
    size = sum(len(k.encode()) + len(v.encode()) for k, v in substitutions.items())
    return size <= SUBSTITUTIONS_LIMIT


def _errors(body: bytes | str | None) -> list[dict[str, Any]]:
    """The `errors` of a SendGrid error response ([] when it has none)."""
    try:
        errors = json.loads(body or b"").get("errors")
    except (ValueError, AttributeError):
        return []
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _error_message(body: bytes | str | None) -> str:
    """SendGrid's explanation, in one line."""
    messages = [str(e.get("message", "")) for e in _errors(body)]
    if any(messages):
        return header_safe("; ".join(m for m in messages if m))[:500]
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    return header_safe(text)[:200] or "no explanation"


def _blames_recipients(body: bytes | str | None) -> bool:
    """Whether a 400 may be about some recipients (then splitting the request finds them)."""
    fields = [e.get("field") for e in _errors(body)]
    return not fields or any(
        not isinstance(f, str) or f in ("", "null") or f.startswith("personalizations")
        for f in fields
    )


def _number(value: str | None) -> float | None:
    """A header's number, if it is one."""
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
