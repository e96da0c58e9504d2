"""Suggested posts on social networks: X's weighted length, mentions, one-click share links."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

X_LIMIT = 280
"""X's limit, in weighted characters (twitter-text v3: URLs 23, CJK and emoji 2)."""

SHARE_URLS = {
    "x": "https://x.com/intent/tweet?text=",
    "bluesky": "https://bsky.app/intent/compose?text=",
    "mastodon": "https://mastodonshare.com/?text=",
}


def weighted_length(text: str) -> int:
    """The length X counts for `text`."""
    return int(_parse_tweet(text).weightedLength)


def fits_on_x(text: str) -> bool:
    """Whether X accepts `text` as one post (not empty, at most 280 weighted characters)."""
    return bool(_parse_tweet(text).valid)


def _parse_tweet(text: str) -> Any:
    """twitter-text's parse, imported on first use: the import takes half a second (it
    compiles its patterns), which `outreach run` would pay for nothing."""
    from twitter_text import parse_tweet

    return parse_tweet(text)


def mentions(text: str, handle: str) -> bool:
    """Whether `text` mentions `@handle` (case-insensitive, not as part of a longer handle)."""
    pattern = rf"(?<![\w@])@{re.escape(handle.lstrip('@'))}(?![\w@])"
    return re.search(pattern, text, re.IGNORECASE) is not None


def share_links(text: str) -> dict[str, str]:
    """One-click links that open `text` ready to publish on X, Bluesky and Mastodon."""
    quoted = quote(text, safe="")
    return {network: base + quoted for network, base in SHARE_URLS.items()}
