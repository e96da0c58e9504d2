"""Signed unsubscribe tokens: they name a supporter and a campaign, and cannot be forged."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, Signer, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode, int_to_bytes, want_bytes

MAX_AGE_SECONDS = 400 * 24 * 3600
"""Tokens stay valid for well over the 60 days the bulk-sender rules ask for."""


@dataclass(frozen=True)
class UnsubscribeRequest:
    """What a valid token says."""

    supporter_id: int
    campaign: str


class _KeyedSigner(TimestampSigner):
    """itsdangerous's timestamp signer, signing with an HMAC keyed once and a timestamp
    encoded once a second (itsdangerous redoes both for every signature)."""

    def __init__(self, secret_key: Any, salt: str | bytes | None = None, **kwargs: Any) -> None:
        super().__init__(secret_key, salt=salt, **kwargs)
        self._keyed = hmac.new(self.derive_key(), digestmod=self.digest_method)
        self._sep = want_bytes(self.sep)
        self._stamp = (-1, b"")

    def sign(self, value: str | bytes) -> bytes:
        """`value.timestamp.signature`, as `TimestampSigner.sign` makes it."""
        now = self.get_timestamp()
        if self._stamp[0] != now:
            self._stamp = now, base64_encode(int_to_bytes(now))
        signed = want_bytes(value) + self._sep + self._stamp[1]
        mac = self._keyed.copy()
        mac.update(signed)
        return signed + self._sep + base64_encode(mac.digest())


class _CompactJSON:
    """itsdangerous's compact JSON (no spaces, UTF-8), with its encoder made once."""

    _encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

    @staticmethod
    def loads(payload: str | bytes) -> Any:
        return json.loads(payload)

    @classmethod
    def dumps(cls, obj: Any) -> str:
        return cls._encoder.encode(obj)


class _Serializer(URLSafeTimedSerializer):
    """itsdangerous's URL-safe timed tokens, read with one signer for every token."""

    default_signer = _KeyedSigner

    def __init__(self, secret_key: str, salt: str) -> None:
        super().__init__(secret_key, salt=salt, serializer=_CompactJSON)
        self._signer = super().make_signer()

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        return self._signer if salt is None else super().make_signer(salt)


class TokenSigner:
    """Makes and checks unsubscribe tokens with the organization's secret key."""

    def __init__(self, secret_key: str) -> None:
        self._serializer = _Serializer(secret_key, salt="outreach-unsubscribe")
        self._signer = self._serializer.make_signer()
        digest_key = hmac.digest(secret_key.encode(), b"outreach-digest", "sha256")
        self._digest = hmac.new(digest_key, digestmod="sha256")
        self._quoted: dict[str, str] = {}

    def digest(self, *parts: str) -> str:
        """HMAC-SHA256 of `parts` with a key derived from the secret, in hex: equal parts
        give equal digests here, and nothing anyone without the secret can predict."""
        mac = self._digest.copy()
        mac.update("\0".join(parts).encode())
        return mac.hexdigest()

    def make(self, supporter_id: int, campaign: str) -> str:
        """A token for this supporter and campaign: what `URLSafeTimedSerializer.dumps`
        makes of `[supporter_id, campaign]`, without zlib (it never shortens a payload this
        small), the campaign's JSON written once."""
        quoted = self._quoted.get(campaign)
        if quoted is None:
            quoted = self._quoted[campaign] = _CompactJSON.dumps(campaign)
        payload = base64_encode(f"[{int(supporter_id)},{quoted}]".encode())
        return self._signer.sign(payload).decode()

    def read(self, token: str) -> UnsubscribeRequest | None:
        """The request a token carries, or None when forged, tampered with or too old."""
        try:
            supporter_id, campaign = self._serializer.loads(token, max_age=MAX_AGE_SECONDS)
        except (BadSignature, ValueError, TypeError):
            return None
        if not isinstance(supporter_id, int) or not isinstance(campaign, str):
            return None
        return UnsubscribeRequest(supporter_id, campaign)
