"""The X transport through tweepy, answered by a fake mounted on tweepy's `requests` session."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter
from sqlalchemy import select

from outreach.app import App
from outreach.campaign.loader import load_schedule
from outreach.config import Settings
from outreach.delivery.dispatch import Dispatcher
from outreach.errors import DeliveryError, OutreachError
from outreach.messages import OutgoingPost
from outreach.rendering.renderer import Renderer
from outreach.store.db import open_database
from outreach.store.schema import ledger
from outreach.tokens import TokenSigner
from outreach.transports.outbox import OutboxEmailTransport
from outreach.transports.x import ATTEMPTS, XPostTransport

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2018, 3, 2, 4, 0, tzinfo=UTC)
TWEETS = "https://api.twitter.com/2/tweets"  # where tweepy 4.17 posts
CREDENTIALS = {
    "X_CONSUMER_KEY": "consumer-key",
    "X_CONSUMER_SECRET": "consumer-secret-value",
    "X_ACCESS_TOKEN": "access-token",
    "X_ACCESS_TOKEN_SECRET": "access-token-secret-value",
}
POST = OutgoingPost("mexico-refugees", "two-weeks-before", "Write to @cafreeland now", "en")
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."

Reply = tuple[int, Mapping[str, Any], Mapping[str, str]]


class FakeX(BaseAdapter):
    """Answers every request tweepy makes, from a script; remembers the requests."""

    def __init__(self, *replies: Reply) -> None:
        super().__init__()
        self.replies = list(replies)
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        self.requests.append(request)
        status, body, headers = self.replies.pop(0)
        response = requests.Response()
        response.status_code = status
        response.reason = {201: "Created", 401: "Unauthorized", 403: "Forbidden"}.get(status, "")
        response.headers.update(headers)
        response.raw = io.BytesIO(json.dumps(body).encode())
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


def created(tweet_id: str) -> Reply:
    return 201, {"data": {"id": tweet_id, "text": POST.text}}, {}


def problem(status: int, detail: str, headers: Mapping[str, str] | None = None) -> Reply:
    body = {"title": "Problem", "type": "about:blank", "status": status, "detail": detail}
    return status, body, headers or {}


class Clock:
    """Unix time that moves only when the transport sleeps."""

    def __init__(self) -> None:
        self.now = 1_520_000_000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def x_transport(fake: FakeX, clock: Clock | None = None) -> XPostTransport:
    """The transport as `from_settings` builds it, with tweepy's session answered by `fake`."""
    clock = clock or Clock()
    built = XPostTransport.from_settings(Settings.from_env(CREDENTIALS))
    transport = XPostTransport(
        built.client, now=lambda: clock.now, sleep=clock.sleep, base_delay=1.0
    )
    for prefix in ("https://", "http://"):  # nothing can reach the network
        transport.client.session.mount(prefix, fake)
    return transport


def test_a_post_is_created_with_oauth1_from_the_organizations_account() -> None:
    fake = FakeX(created("1445880548472328192"))
    outcome = x_transport(fake).publish(POST)

    assert (outcome.supporter_id, outcome.ok) == (0, True)
    assert outcome.detail == "https://x.com/i/status/1445880548472328192"
    [request] = fake.requests
    assert (request.method, request.url) == ("POST", TWEETS)
    authorization = str(request.headers["Authorization"])
    assert authorization.startswith("OAuth ")
    for part in ('oauth_consumer_key="consumer-key"', 'oauth_token="access-token"'):
        assert part in authorization
    assert "oauth_signature=" in authorization and "secret" not in authorization
    assert json.loads(request.body or b"") == {"text": POST.text}


def test_a_rate_limit_waits_for_xs_reset_then_posts() -> None:
    clock = Clock()
    reset = int(clock.now) + 120
    fake = FakeX(
        problem(429, "Too Many Requests", {"x-rate-limit-reset": str(reset)}),
        created("2"),
    )
    outcome = x_transport(fake, clock).publish(POST)

    assert outcome.ok
    assert clock.slept == [121.0]  # until the reset, and a second for the clocks to agree
    assert len(fake.requests) == 2


def test_a_duplicate_is_recorded_as_failed_with_xs_reason() -> None:
    fake = FakeX(problem(403, DUPLICATE))
    outcome = x_transport(fake).publish(POST)

    assert (outcome.ok, outcome.detail) == (False, DUPLICATE)
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (problem(401, "Unauthorized"), "X refused the credentials in X_"),
        (
            problem(403, "Your client app is not configured with the appropriate oauth1 app "),
            "X refused to post for the account: Your client app",
        ),
    ],
)
def test_refused_credentials_stop_the_run_without_showing_them(reply: Reply, message: str) -> None:
    with pytest.raises(DeliveryError, match=message) as refused:
        x_transport(FakeX(reply)).publish(POST)
    assert not any(secret in str(refused.value) for secret in CREDENTIALS.values())


def test_server_errors_are_retried_with_backoff_then_recorded() -> None:
    clock = Clock()
    fake = FakeX(*[problem(503, "Service Unavailable")] * ATTEMPTS)
    outcome = x_transport(fake, clock).publish(POST)

    assert not outcome.ok
    assert outcome.detail == f"Service Unavailable (gave up after {ATTEMPTS} attempts)"
    assert len(fake.requests) == ATTEMPTS
    assert len(clock.slept) == ATTEMPTS - 1
    assert clock.slept[-1] > clock.slept[0]  # the waits grow


def test_missing_credentials_are_a_user_error_when_the_worker_starts(tmp_path: Path) -> None:
    with pytest.raises(OutreachError, match="X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET must be set"):
        XPostTransport.from_settings(
            Settings.from_env(
                {"X_CONSUMER_KEY": "k", "X_CONSUMER_SECRET": "s", "X_ACCESS_TOKEN": ""}
            )
        )
    settings = Settings.from_env({"OUTREACH_SOCIAL_TRANSPORT": "x", **CREDENTIALS})
    assert isinstance(App(settings).post_transport(lambda: NOW), XPostTransport)
    with pytest.raises(OutreachError, match="X_CONSUMER_KEY"):
        App(Settings.from_env({"OUTREACH_SOCIAL_TRANSPORT": "x"})).post_transport(lambda: NOW)


def test_dispatch_announces_once_per_reminder(database_url: str, tmp_path: Path) -> None:
    fake = FakeX(created("42"))
    schedule = load_schedule(REPO / "schedules.yaml")
    dispatcher = Dispatcher(
        engine=open_database(database_url),
        schedule=schedule,
        renderer=Renderer(schedule, REPO / "templates"),
        email_transport=OutboxEmailTransport(tmp_path / "outbox", lambda: NOW),
        post_transport=x_transport(fake),
        signer=TokenSigner("test-secret"),
        public_url="https://act.example.org",
    )
    first = dispatcher.run_once(NOW)
    second = dispatcher.run_once(NOW)

    assert [s.announced for s in first.sends] == [True]
    assert not any(s.announced for s in second.sends)
    [request] = fake.requests
    assert "@cafreeland" in json.loads(request.body or b"")["text"]
    with dispatcher.engine.connect() as conn:
        states = conn.execute(select(ledger.c.state).where(ledger.c.channel == "x")).scalars()
        assert list(states) == ["sent"]
