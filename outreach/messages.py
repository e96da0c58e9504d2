"""The value types every layer carries: outgoing emails and posts, outcomes, channels, states.

Transports import these and nothing of the store or the rendering; the store records them.
A `Skeleton` is an email shared by a group of supporters with a substitution tag
(`-{{city}}`, `-{{city:html}}`, …) wherever one of them differs; transports fill the tags
(SendGrid does it itself, for many at once).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple


class Channel(StrEnum):
    """Ledger channels: a supporter's email, the organization's own post."""

    EMAIL = "email"
    POST = "x"


class State(StrEnum):
    """What the ledger stores of an occurrence."""

    CLAIMED = "claimed"
    SENT = "sent"
    FAILED = "failed"


SENDING = "sending"
"""Not a stored state: claimed by a worker that is still alive."""

ORGANIZATION = 0
"""The ledger's supporter id for the organization's own posts."""

TAG = re.compile(r"-\{\{([a-z0-9_]+)(?::(html|attr|url))?\}\}")
"""A substitution tag: the field it stands for, and how its value is encoded there."""
_TAG_CUT = re.compile(r"-\{\{[a-z0-9_]+(?::(?:html|attr|url))?\}\}")
UNSUBSCRIBE_TAG = "-{{unsubscribe}}"
"""Stands for the supporter's unsubscribe token, inside the unsubscribe link."""


@dataclass(frozen=True)
class Outcome:
    """What a transport said of one claimed occurrence."""

    supporter_id: int
    ok: bool
    detail: str = ""


class Tagged(NamedTuple):
    """A text cut at its tags: `texts` has one more item than `tags`."""

    texts: tuple[str, ...]
    tags: tuple[str, ...]

    def fill(self, values: Mapping[str, str]) -> str:
        """The text with each tag's value in its place."""
        if len(self.tags) == 1:  # the usual line: one value
            return f"{self.texts[0]}{values[self.tags[0]]}{self.texts[1]}"
        pieces = [""] * (2 * len(self.tags) + 1)
        pieces[::2] = self.texts
        pieces[1::2] = [values[tag] for tag in self.tags]
        return "".join(pieces)


def tagged(text: str) -> Tagged:
    """`text` cut at its tags, ready to be filled many times."""
    return Tagged(tuple(_TAG_CUT.split(text)), tuple(_TAG_CUT.findall(text)))


def has_tags(text: str) -> bool:
    """Whether `text` holds a substitution tag."""
    return _TAG_CUT.search(text) is not None


class Skeleton:
    """An email shared by a group of supporters, with a tag wherever one of them differs."""

    __slots__ = ("_cuts", "html", "language", "slots", "subject", "text")

    def __init__(self, subject: str, text: str, html: str, language: str) -> None:
        self.subject = subject
        self.text = text
        self.html = html
        self.language = language
        found = {m[0]: (m[1], m[2]) for part in (subject, text, html) for m in TAG.finditer(part)}
        self.slots: tuple[tuple[str, str, str | None], ...] = tuple(
            (tag, name, kind) for tag, (name, kind) in found.items()
        )
        """(tag, field, encoding) of every tag, each once."""
        self._cuts = tuple(tagged(part) for part in (subject, text, html))

    def fill(self, values: Mapping[str, str]) -> Content:
        """Subject, text and HTML with every tag replaced by its value."""
        subject, text, html = (cut.fill(values) for cut in self._cuts)
        return Content(subject, text, html)

    def fill_part(self, part: int, values: Mapping[str, str]) -> str:
        """One of subject (0), text (1) and HTML (2) filled in."""
        return self._cuts[part].fill(values)


class Content(NamedTuple):
    """An email's subject, text and HTML."""

    subject: str
    text: str
    html: str


@dataclass(slots=True)
class OutgoingEmail:
    """One personalized email, ready for any transport to encode its own way (not frozen:
    a frozen dataclass takes three times as long to make, and one is made per supporter)."""

    supporter_id: int
    campaign: str
    reminder: str
    to_email: str
    to_name: str
    from_email: str
    from_name: str
    language: str
    message_id: str
    headers: Mapping[str, str] = field(default_factory=dict)
    """Headers of this email's own (its unsubscribe link)."""
    send_headers: Mapping[str, str] = field(default_factory=dict)
    """Headers every email of its send carries alike (one mapping for them all)."""
    content: Content | None = None
    """Subject, text and HTML of an email rendered on its own (else: `skeleton`)."""
    skeleton: Skeleton | None = None
    """The rendering this email shares with others: its subject, text and html are the
    skeleton filled with `substitutions`, when read (SendGrid and SMTP fill it themselves,
    for many at once)."""
    substitutions: Mapping[str, str] = field(default_factory=dict)
    send_at: datetime | None = None
    """When the email is due; a transport that can schedule (SendGrid) holds it until then."""

    def __post_init__(self) -> None:
        if (self.content is None) == (self.skeleton is None):
            raise ValueError("an email has either its own content or a skeleton to fill")

    @property
    def subject(self) -> str:
        return self._part(0)

    @property
    def text(self) -> str:
        return self._part(1)

    @property
    def html(self) -> str:
        return self._part(2)

    def _part(self, part: int) -> str:
        if self.skeleton is not None:
            return self.skeleton.fill_part(part, self.substitutions)
        assert self.content is not None
        return self.content[part]


@dataclass(frozen=True)
class OutgoingPost:
    """The organization's own post (an announcement) for one reminder."""

    campaign: str
    reminder: str
    text: str
    language: str
