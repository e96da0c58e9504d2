"""Each supporter's email for a send, filled from a shared rendering wherever the template allows.

A template is rendered once per language, send date and group of supporters who print and test
alike (`personalization.py`), with markers where they differ; each supporter's email is that
skeleton filled with their values (`substitution.py`). Templates that branch on a supporter's
data in other ways, and supporters with values that cannot be filled in as they are, get an
email rendered for them alone. Either way the email is the same, to the byte.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping
from datetime import date, datetime
from typing import Any, NamedTuple

from outreach.campaign.model import Schedule, Supporter
from outreach.delivery.identity import feedback_id, list_id, message_id
from outreach.messages import OutgoingEmail, Skeleton
from outreach.rendering.renderer import Renderer
from outreach.rendering.skeleton import (
    UNSUBSCRIBE_TAG,
    plain,
    skeleton_of,
    skeleton_values,
    stand_in,
)
from outreach.rendering.views import RenderedEmail
from outreach.store.people import supporter_from_row
from outreach.timeline import Send
from outreach.tokens import TokenSigner

log = logging.getLogger("outreach.delivery.compose")


class Group(NamedTuple):
    """Supporters whose emails share one rendering."""

    send: tuple[Hashable, ...]
    language: str
    send_date: date
    by_language: str
    filled: tuple[str, ...]
    """The fields they print or test that are not empty."""


ALONE = Group((), "", date.min, "", ())
"""The supporters whose emails share nothing: each is rendered on its own."""

_CACHE_LIMIT = 1000


class Composer:
    """Builds the emails of a schedule's sends, remembering the renderings they share."""

    def __init__(
        self, schedule: Schedule, renderer: Renderer, signer: TokenSigner, public_url: str
    ) -> None:
        self.schedule = schedule
        self.renderer = renderer
        self.signer = signer
        self.public_url = public_url
        self._domain = schedule.organization.email.rsplit("@", 1)[-1]
        self._skeletons: dict[Group, Skeleton | None] = {}
        self._times: dict[tuple[Hashable, ...], tuple[datetime, date]] = {}

    def group(self, send: Send, row: Mapping[str, Any]) -> Group:
        """Supporters of `send` with equal groups share one rendering (ALONE: none)."""
        supporter = supporter_from_row(row)
        return self._group(send, supporter, self._when(send, self._zone(supporter, row))[1])

    def compose(
        self, send: Send, row: Mapping[str, Any], group: Group | None = None
    ) -> OutgoingEmail:
        """The email one supporter gets for one send (`group`: theirs, if known already)."""
        supporter = supporter_from_row(row)
        fires, send_date = self._when(send, self._zone(supporter, row))
        token = self.signer.make(supporter.id, send.campaign.id)
        unsubscribe_url = f"{self.public_url}/u/{token}"
        if group is None:
            group = self._group(send, supporter, send_date)
        skeleton = self._skeleton(send, supporter, group)
        substitutions: dict[str, str] = {}
        if skeleton is None:
            rendered = self._render(send, supporter, send_date, unsubscribe_url)
            subject, text, html = rendered.subject, rendered.text, rendered.html
            language = rendered.language
        else:
            substitutions = skeleton_values(skeleton, supporter, token)
            subject, text, html = skeleton.fill(substitutions)
            language = skeleton.language
        organization = self.schedule.organization
        return OutgoingEmail(
            supporter_id=supporter.id,
            campaign=send.campaign.id,
            reminder=send.key,
            to_email=supporter.email,
            to_name=supporter.name,
            from_email=organization.email,
            from_name=organization.name,
            subject=subject,
            text=text,
            html=html,
            language=language,
            message_id=message_id(
                self.signer,
                (send.campaign.id, send.key, supporter.id, supporter.email, fires),
                self._domain,
            ),
            headers={
                "List-Unsubscribe": f"<{unsubscribe_url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "List-Id": self._list_id(send),
                "Feedback-ID": feedback_id(send.campaign.id, send.key, self._domain),
            },
            skeleton=skeleton,
            substitutions=substitutions,
            send_at=fires,
        )

    def _list_id(self, send: Send) -> str:
        """The campaign as a list (RFC 2919), titled in the first language."""
        fallback = self.schedule.fallback_language
        title = send.campaign.title.resolve(fallback, fallback)
        return list_id(title, send.campaign.id, self._domain)

    def _zone(self, supporter: Supporter, row: Mapping[str, Any]) -> str:
        return str(row.get("zone") or supporter.timezone or self.schedule.timezone)

    def _when(self, send: Send, zone: str) -> tuple[datetime, date]:
        """When `send` fires in `zone` (UTC), and on which local day."""
        key = (*_send_key(send), zone)
        if key not in self._times:
            self._times = self._times if len(self._times) < _CACHE_LIMIT else {}
            self._times[key] = send.fires_at(zone), send.local_date(zone)
        return self._times[key]

    def _group(self, send: Send, supporter: Supporter, send_date: date) -> Group:
        """The group `supporter` renders with."""
        language, personalization = self.renderer.personalization(send.template, supporter.language)
        if not personalization.shared:
            return ALONE
        values = [getattr(supporter, field) for field in personalization.fields]
        if not all(plain(value) for value in values if value):
            return ALONE
        filled = tuple(
            field for field, value in zip(personalization.fields, values, strict=True) if value
        )
        by_language = supporter.language if personalization.by_language else ""
        return Group(_send_key(send), language, send_date, by_language, filled)

    def _skeleton(self, send: Send, supporter: Supporter, group: Group) -> Skeleton | None:
        """The rendering `supporter` shares with their group, rendered on first use (or None)."""
        if group == ALONE:
            return None
        if group not in self._skeletons:
            self._skeletons = self._skeletons if len(self._skeletons) < _CACHE_LIMIT else {}
            self._skeletons[group] = self._render_skeleton(send, supporter, group)
        return self._skeletons[group]

    def _render(
        self, send: Send, supporter: Supporter, send_date: date, unsubscribe_url: str
    ) -> RenderedEmail:
        """`send`'s template rendered for one supporter (or stand-in)."""
        return self.renderer.render_email(
            campaign=send.campaign,
            template=send.template,
            target_ids=send.targets,
            milestone=send.milestone,
            supporter=supporter,
            send_date=send_date,
            unsubscribe_url=unsubscribe_url,
        )

    def _render_skeleton(self, send: Send, supporter: Supporter, group: Group) -> Skeleton | None:
        """The email rendered for a stand-in of the group, as a skeleton (None: no good)."""
        stand_in_supporter = stand_in(supporter.language, group.filled)
        unsubscribe_url = f"{self.public_url}/u/{UNSUBSCRIBE_TAG}"
        rendered = self._render(send, stand_in_supporter, group.send_date, unsubscribe_url)
        skeleton = skeleton_of(rendered.subject, rendered.text, rendered.html, rendered.language)
        if skeleton is None:
            log.info(
                "template %s (%s) renders for each supporter: a value does not come out whole",
                send.template,
                rendered.language,
            )
        return skeleton


def _send_key(send: Send) -> tuple[Hashable, ...]:
    """What makes two sends render alike (a reloaded schedule may change the milestone)."""
    milestone = send.milestone
    return (
        send.campaign.id,
        send.key,
        send.template,
        send.targets,
        milestone and (milestone.id, milestone.when),
    )
