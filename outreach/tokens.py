"""Signed unsubscribe tokens: they name a supporter and a campaign, and cannot be forged."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode
from itsdangerous.url_safe import URLSafeSerializerMixin

MAX_AGE_SECONDS = 400 * 24 * 3600
"""Tokens stay valid for well over the 60 days the bulk-sender rules ask for."""


@dataclass(frozen=True)
class UnsubscribeRequest:
    """What a valid token says."""

    supporter_id: int
    campaign: str


class _Serializer(URLSafeTimedSerializer):
    """Skips the zlib attempt of itsdangerous: it never shortens a payload this small, and
    costs a quarter of the time of composing an email at 400,000 supporters."""

    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(super(URLSafeSerializerMixin, self).dump_payload(obj))


class TokenSigner:
    """Makes and checks unsubscribe tokens with the organization's secret key."""

    def __init__(self, secret_key: str) -> None:
        self._serializer = _Serializer(secret_key, salt="outreach-unsubscribe")
        self._digest_key = hmac.digest(secret_key.encode(), b"outreach-digest", "sha256")

    def digest(self, *parts: str) -> str:
        """HMAC-SHA256 of `parts` with a key derived from the secret, in hex: equal parts
        give equal digests here, and nothing anyone without the secret can predict."""
        message = "\0".join(parts).encode()
        return hmac.new(self._digest_key, message, hashlib.sha256).hexdigest()

    def make(self, supporter_id: int, campaign: str) -> str:
        """A token for this supporter and campaign."""
        return self._serializer.dumps([supporter_id, campaign])

    def read(self, token: str) -> UnsubscribeRequest | None:
        """The request a token carries, or None when forged, tampered with or too old."""
        try:
            supporter_id, campaign = self._serializer.loads(token, max_age=MAX_AGE_SECONDS)
        except (BadSignature, ValueError, TypeError):
            return None
        if not isinstance(supporter_id, int) or not isinstance(campaign, str):
            return None
        return UnsubscribeRequest(supporter_id, campaign)
