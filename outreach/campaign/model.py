"""The campaign model: what schedules.yaml describes, as plain immutable values.

Pure data, no I/O. The loader (`campaign.py`) builds these from YAML; the timeline,
renderer and dispatcher read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any


@dataclass(frozen=True)
class Text:
    """A text that may differ by language: `{en: ..., fr: ...}` or one plain string."""

    values: Mapping[str, str]

    @classmethod
    def plain(cls, text: str) -> Text:
        """The same text in every language."""
        return cls({"*": text})

    def resolve(self, language: str, fallback: str) -> str:
        """The text in `language`, else in `fallback`, else the first one given."""
        for key in (language, fallback, "*"):
            if key in self.values:
                return self.values[key]
        return next(iter(self.values.values()))


@dataclass(frozen=True)
class Organization:
    """The sender, named in every email (anti-spam law)."""

    name: str
    email: str
    address: str
    website: str | None = None


@dataclass(frozen=True)
class Target:
    """A decision-maker the campaign addresses."""

    id: str
    name: Text
    role: Text | None = None
    handles: Mapping[str, str] = field(default_factory=dict)
    email: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class Milestone:
    """A dated event: a date (local to each supporter) or an aware datetime."""

    id: str
    title: Text
    when: date | datetime

    @property
    def day(self) -> date:
        """The calendar day of the milestone (in its own time zone when it has one)."""
        return self.when.date() if isinstance(self.when, datetime) else self.when


@dataclass(frozen=True)
class Audience:
    """Who a reminder goes to; empty tuples mean everybody."""

    tags: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()


DEFAULT_EXPIRES = timedelta(days=1)


@dataclass(frozen=True)
class Reminder:
    """A send defined relative to a milestone, at each supporter's local `at` time."""

    id: str
    milestone: str
    offset: timedelta
    template: str
    at: time | None = None
    targets: tuple[str, ...] = ()
    audience: Audience = field(default_factory=Audience)
    expires: timedelta = DEFAULT_EXPIRES
    announce: bool = False


@dataclass(frozen=True)
class Campaign:
    """One cause: its targets, milestones and reminders."""

    id: str
    title: Text
    url: str
    hashtags: tuple[str, ...] = ()
    targets: Mapping[str, Target] = field(default_factory=dict)
    milestones: Mapping[str, Milestone] = field(default_factory=dict)
    reminders: Mapping[str, Reminder] = field(default_factory=dict)


@dataclass(frozen=True)
class Schedule:
    """The whole of schedules.yaml."""

    organization: Organization
    timezone: str
    languages: tuple[str, ...]
    campaigns: Mapping[str, Campaign]

    @property
    def fallback_language(self) -> str:
        """The first language: used when a supporter's language has no text."""
        return self.languages[0]


@dataclass(frozen=True)
class Supporter:
    """A person who agreed to hear from the organization, as the renderer sees them."""

    id: int
    email: str
    first_name: str = ""
    last_name: str = ""
    city: str = ""
    region: str = ""
    language: str = ""
    timezone: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The full name, or the part of the email before the @ when there is none."""
        full = f"{self.first_name} {self.last_name}".strip()
        return full or self.email.split("@", 1)[0]
