"""Suggested posts on social networks: each network's length, mentions, one-click share links.

The post is written once, naming each target by their X handle (`@cafreeland`). Shared to
Bluesky or Mastodon, each X mention becomes the target's handle there (`@name.bsky.social`,
`@user@server`): an X handle on Mastodon would tag whoever owns that name on the supporter's
server. A network where a target has no handle gets no share link.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from outreach.campaign.model import Campaign

X_LIMIT = 280
"""X's limit, in weighted characters (twitter-text v3: URLs 23, CJK and emoji 2)."""
NETWORKS = ("x", "bluesky", "mastodon")
NETWORK_NAMES = {"x": "X", "bluesky": "Bluesky", "mastodon": "Mastodon"}
LIMITS = {"x": X_LIMIT, "bluesky": 300, "mastodon": 500}
"""Each network's limit: X weighted, Bluesky graphemes, Mastodon graphemes (URLs count 23,
a remote mention only its `@user` part)."""
UNITS = {"x": "characters", "bluesky": "graphemes", "mastodon": "characters"}

SHARE_URLS = {
    "x": "https://x.com/intent/tweet?text=",
    "bluesky": "https://bsky.app/intent/compose?text=",
    "mastodon": "https://mastodonshare.com/?text=",
}
MASTODON_URL_LENGTH = 23
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_REMOTE_MENTION = re.compile(r"(?<![\w@])(@[\w.-]+)@[\w.-]+\w", re.UNICODE)

Handles = Mapping[str, str]
"""A target's handles by network, without leading `@`."""


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


def graphemes(text: str) -> int:
    """User-perceived characters (extended grapheme clusters, Unicode's `\\X`)."""
    import regex  # on use, as twitter-text is

    return len(regex.findall(r"\X", text))


def post_length(network: str, text: str) -> int:
    """The length `network` counts for `text`, in its own units (`UNITS`)."""
    if network == "x":
        return weighted_length(text)
    if network == "mastodon":
        text = _URL.sub("x" * MASTODON_URL_LENGTH, text)
        text = _REMOTE_MENTION.sub(r"\1", text)
    return graphemes(text)


def mentions(text: str, handle: str) -> bool:
    """Whether `text` mentions `@handle` (case-insensitive, not as part of a longer handle)."""
    return _mention(handle).search(text) is not None


def _mention(handle: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w@])@{re.escape(handle.lstrip('@'))}(?![\w@])", re.IGNORECASE)


def missing_handles(network: str, targets: Mapping[str, Handles]) -> list[str]:
    """The ids of the targets with no handle on `network` (then it gets no share link)."""
    return [target for target, handles in targets.items() if not handles.get(network)]


def target_handles(campaign: Campaign, target_ids: Sequence[str]) -> dict[str, Handles]:
    """The handles of the targets a post names (every target of the campaign if none)."""
    ids = tuple(target_ids) or tuple(campaign.targets)
    return {t: campaign.targets[t].handles for t in ids if t in campaign.targets}


def network_posts(text: str, targets: Sequence[Handles]) -> dict[str, str | None]:
    """The post as shared to each network, or None where a target has no handle there."""
    posts: dict[str, str | None] = {}
    for network in NETWORKS:
        if any(not handles.get(network) for handles in targets):
            posts[network] = None
            continue
        post = text
        for handles in targets:
            x_handle = handles.get("x")
            if x_handle and network != "x":
                post = _mention(x_handle).sub(_literal(f"@{handles[network]}"), post)
        posts[network] = post
    return posts


def _literal(text: str) -> Callable[[re.Match[str]], str]:
    """A replacement that inserts `text` as it is (no backslash escapes)."""
    return lambda _: text


def share_links(text: str, targets: Sequence[Handles]) -> dict[str, str]:
    """One-click links that open the post ready to publish on each network, with that
    network's handles; "" for a network where a target has no handle."""
    return {
        network: "" if post is None else SHARE_URLS[network] + quote(post, safe="")
        for network, post in network_posts(text, targets).items()
    }
