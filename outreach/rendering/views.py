"""What templates see of the campaign (`campaign`, `target`, `milestone`), and what rendering
gives back (`RenderedEmail`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from jinja2 import Undefined

from outreach.campaign.model import Target


@dataclass(frozen=True)
class RenderedEmail:
    """One supporter's email, and the post it suggests."""

    subject: str
    text: str
    html: str
    post: str
    language: str
    """The language actually used (the first language when the supporter's has no file)."""
    raw_html: str = ""
    """The HTML before its CSS is inlined (where `skeleton.markers_stand_alone` looks)."""


@dataclass(frozen=True)
class CampaignView:
    """`campaign` in templates."""

    label: ClassVar[str] = "campaign"
    id: str
    title: str
    url: str
    hashtags: tuple[str, ...]


@dataclass(frozen=True)
class TargetView:
    """`target` and each of `targets` in templates."""

    label: ClassVar[str] = "target"
    id: str
    name: str
    role: str | None
    handles: Mapping[str, str]
    email: str | None
    address: str | None


@dataclass(frozen=True)
class MilestoneView:
    """`milestone` in templates; `days_until` counts from the local day of sending."""

    label: ClassVar[str] = "milestone"
    id: str
    title: str
    date: date
    days_until: int | Undefined


def target_view(target: Target, language: str, fallback: str) -> TargetView:
    """`target` as templates see it, in `language`."""
    role = target.role.resolve(language, fallback) if target.role else None
    return TargetView(
        target.id,
        target.name.resolve(language, fallback),
        role,
        target.handles,
        target.email,
        target.address,
    )
