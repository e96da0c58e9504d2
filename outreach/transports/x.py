"""The X transport: the organization's announcements, posted from its own account.

OAuth 1.0a user context (the organization's app and access token) through tweepy's
`Client.create_tweet`. Rate limits wait for X's reset; a post X refuses as a duplicate is
recorded as failed with X's reason; credentials X rejects stop the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import requests
import tweepy

from outreach.config import Settings
from outreach.errors import DeliveryError, OutreachError
from outreach.messages import ORGANIZATION, Outcome, OutgoingPost
from outreach.transports.retry import backoff_delay, sleep_until_reset

ATTEMPTS = 4
"""Tries per post (first included) through rate limits, server errors and timeouts."""
RESET_LIMIT = 16 * 60.0
"""Longest wait for a rate-limit reset, in seconds (X's windows are 15 minutes)."""


def _reason(exc: tweepy.HTTPException) -> str:
    """X's own words for a refusal (its `detail` or error messages)."""
    messages = [str(m) for m in exc.api_messages]
    return "; ".join(messages) or str(exc)


class XPostTransport:
    """Publishes each announcement as a post on the organization's X account."""

    name = "x"

    def __init__(
        self,
        client: tweepy.Client,
        *,
        base_delay: float = 2.0,
        max_delay: float = 60.0,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._now = now
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: Settings) -> XPostTransport:
        """The transport for the account in X_*; missing credentials are an `OutreachError`."""
        credentials = {
            "X_CONSUMER_KEY": settings.x_consumer_key,
            "X_CONSUMER_SECRET": settings.x_consumer_secret,
            "X_ACCESS_TOKEN": settings.x_access_token,
            "X_ACCESS_TOKEN_SECRET": settings.x_access_token_secret,
        }
        missing = [name for name, value in credentials.items() if value is None]
        if missing:
            raise OutreachError(
                f"{', '.join(missing)} must be set with OUTREACH_SOCIAL_TRANSPORT=x "
                "(the organization's X app and access token)"
            )
        key, secret, token, token_secret = (
            value.get_secret_value() for value in credentials.values() if value is not None
        )
        return cls(
            tweepy.Client(
                consumer_key=key,
                consumer_secret=secret,
                access_token=token,
                access_token_secret=token_secret,
            )
        )

    def publish(self, post: OutgoingPost) -> Outcome:
        """Post the announcement; the outcome names the new post, or X's reason."""
        for attempt in range(ATTEMPTS):
            reset: int | None = None
            try:
                response = self.client.create_tweet(text=post.text, user_auth=True)
            except tweepy.TooManyRequests as exc:
                reason, reset = f"rate limited: {_reason(exc)}", exc.reset_time
            except tweepy.TwitterServerError as exc:
                reason = _reason(exc)
            except requests.RequestException as exc:
                reason = f"cannot reach X: {type(exc).__name__}"
            except tweepy.Unauthorized as exc:
                raise DeliveryError(
                    f"X refused the credentials in X_* ({_reason(exc)}); check the app's "
                    "keys and access token"
                ) from None
            except tweepy.Forbidden as exc:
                if "duplicate" in _reason(exc).lower():
                    return Outcome(ORGANIZATION, False, _reason(exc))
                raise DeliveryError(f"X refused to post for the account: {_reason(exc)}") from None
            except tweepy.HTTPException as exc:
                return Outcome(ORGANIZATION, False, _reason(exc))
            else:
                return Outcome(ORGANIZATION, True, f"https://x.com/i/status/{response.data['id']}")
            if attempt + 1 < ATTEMPTS:
                self._wait(attempt, reset)
        return Outcome(ORGANIZATION, False, f"{reason} (gave up after {ATTEMPTS} attempts)")

    def _wait(self, attempt: int, reset: int | None) -> None:
        """Until X's rate-limit reset when it gave one, else a backoff."""
        if reset is None:
            self._sleep(backoff_delay(attempt, self._base_delay, self._max_delay))
        else:
            sleep_until_reset(reset + 1, self._now, self._sleep, RESET_LIMIT)
