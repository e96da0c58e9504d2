"""Unsubscribe tokens: itsdangerous's own format, so links already sent keep working."""

from __future__ import annotations

import hmac

from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer

from outreach.tokens import TokenSigner, UnsubscribeRequest

SECRET = "a-secret-key-of-the-installation-0123456789"
STOCK = URLSafeTimedSerializer(SECRET, salt="outreach-unsubscribe")

ids = st.integers(min_value=0, max_value=2**53)
campaigns = st.text(min_size=1, max_size=60)


@given(ids, campaigns)
def test_a_token_reads_as_a_stock_itsdangerous_token(supporter_id: int, campaign: str) -> None:
    token = TokenSigner(SECRET).make(supporter_id, campaign)
    assert STOCK.loads(token) == [supporter_id, campaign]


@given(ids, campaigns)
def test_a_stock_token_reads_as_the_request_it_names(supporter_id: int, campaign: str) -> None:
    token = STOCK.dumps([supporter_id, campaign])
    assert TokenSigner(SECRET).read(token) == UnsubscribeRequest(supporter_id, campaign)


@given(ids, campaigns)
def test_a_token_of_another_secret_or_tampered_with_reads_as_nothing(
    supporter_id: int, campaign: str
) -> None:
    signer = TokenSigner(SECRET)
    token = TokenSigner(SECRET + "x").make(supporter_id, campaign)
    assert signer.read(token) is None
    good = signer.make(supporter_id, campaign)
    payload, stamp, signature = good.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert signer.read(f"{payload}.{stamp}.{flipped}") is None
    assert signer.read(good) == UnsubscribeRequest(supporter_id, campaign)


@given(st.lists(st.text(max_size=40), min_size=1, max_size=5))
def test_digests_stay_the_hmac_they_always_were(parts: list[str]) -> None:
    """Message-IDs are these digests: a re-send after an upgrade must repeat them."""
    key = hmac.digest(SECRET.encode(), b"outreach-digest", "sha256")
    expected = hmac.digest(key, "\0".join(parts).encode(), "sha256").hex()
    signer = TokenSigner(SECRET)
    assert signer.digest(*parts) == expected
    assert signer.digest(*parts) == expected  # the keyed state is copied, never used up
