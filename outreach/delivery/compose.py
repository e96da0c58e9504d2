"""Each supporter's email for a send, filled from a shared rendering wherever the template allows.

A template is rendered once per language, send date and group of supporters whose tests come
out alike and whose printed values are empty alike (`rendering/slots.py`), with markers where
their values go; each supporter's email is that skeleton filled with their values
(`rendering/skeleton.py`). Templates that branch on a supporter's
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
from outreach.errors import OutreachError
from outreach.messages import UNSUBSCRIBE_TAG, Content, OutgoingEmail, Skeleton
from outreach.rendering.renderer import Renderer
from outreach.rendering.skeleton import (
    markers_stand_alone,
    skeleton_of,
    skeleton_values,
)
from outreach.rendering.slots import Reading
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
    key: tuple[Hashable, ...]
    """How their tests come out and which of their values are empty (`slots.Reading`)."""


ALONE = Group((), "", date.min, ())
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
        self._readings: dict[tuple[Hashable, ...], tuple[Supporter, Group, Reading | None]] = {}
        """What `group` found, for `compose` to use (by send and supporter id)."""
        self._times: dict[tuple[Hashable, ...], tuple[datetime, date]] = {}
        self._headers: dict[tuple[Hashable, ...], dict[str, str]] = {}
        self._last: tuple[Send | None, tuple[Hashable, ...]] = (None, ())

    def group(self, send: Send, row: Mapping[str, Any]) -> Group:
        """Supporters of `send` with equal groups share one rendering (ALONE: none)."""
        supporter = supporter_from_row(row)
        send_date = self._when(send, self._zone(supporter, row))[1]
        group, reading = self._group(send, supporter, send_date)
        if len(self._readings) >= _CACHE_LIMIT * 10:
            self._readings.clear()
        self._readings[(self._key(send), supporter.id)] = supporter, group, reading
        return group

    def compose(
        self, send: Send, row: Mapping[str, Any], group: Group | None = None
    ) -> OutgoingEmail:
        """The email one supporter gets for one send (`group`: theirs, if known already)."""
        known = self._readings.pop((self._key(send), int(row["id"])), None)
        if known is not None and group is not None and known[1] == group:
            supporter, group, reading = known
            fires, send_date = self._when(send, self._zone(supporter, row))
        else:
            supporter = supporter_from_row(row)
            fires, send_date = self._when(send, self._zone(supporter, row))
            group, reading = self._group(send, supporter, send_date)
        token = self.signer.make(supporter.id, send.campaign.id)
        unsubscribe_url = f"{self.public_url}/u/{token}"
        skeleton = None if reading is None else self._skeleton(send, supporter, group, reading)
        substitutions: dict[str, str] = {}
        content = None
        if skeleton is None or reading is None:
            rendered = self._render(send, supporter, send_date, unsubscribe_url)
            content = Content(rendered.subject, rendered.text, rendered.html)
            language = rendered.language
        else:
            substitutions = skeleton_values(skeleton, reading.values, token)
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
            language=language,
            message_id=message_id(
                self.signer,
                (send.campaign.id, send.key, supporter.id, supporter.email, fires),
                self._domain,
            ),
            headers={"List-Unsubscribe": f"<{unsubscribe_url}>"},
            send_headers=self._send_headers(send),
            content=content,
            skeleton=skeleton,
            substitutions=substitutions,
            send_at=fires,
        )

    def _send_headers(self, send: Send) -> dict[str, str]:
        """The headers every email of `send` shares, worked out once: one-click unsubscribe
        (RFC 8058), the campaign as a list (RFC 2919, titled in the first language) and its
        `Feedback-ID`."""
        key = self._key(send)
        headers = self._headers.get(key)
        if headers is None:
            fallback = self.schedule.fallback_language
            title = send.campaign.title.resolve(fallback, fallback)
            headers = self._headers[key] = {
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "List-Id": list_id(title, send.campaign.id, self._domain),
                "Feedback-ID": feedback_id(send.campaign.id, send.key, self._domain),
            }
        return headers

    def _key(self, send: Send) -> tuple[Hashable, ...]:
        """`_send_key(send)`, worked out once for the send at hand."""
        last, key = self._last
        if send is not last:
            key = _send_key(send)
            self._last = send, key
        return key

    def _zone(self, supporter: Supporter, row: Mapping[str, Any]) -> str:
        return str(row.get("zone") or supporter.timezone or self.schedule.timezone)

    def _when(self, send: Send, zone: str) -> tuple[datetime, date]:
        """When `send` fires in `zone` (UTC), and on which local day."""
        key = (self._key(send), zone)
        times = self._times.get(key)
        if times is None:
            self._times = self._times if len(self._times) < _CACHE_LIMIT else {}
            times = self._times[key] = send.fires_at(zone), send.local_date(zone)
        return times

    def _group(
        self, send: Send, supporter: Supporter, send_date: date
    ) -> tuple[Group, Reading | None]:
        """The group `supporter` renders with, and what they give the template's slots."""
        language, reading = self.renderer.reading(send, supporter, send_date)
        if reading is None:
            return ALONE, None
        return Group(self._key(send), language, send_date, reading.key), reading

    def _skeleton(
        self, send: Send, supporter: Supporter, group: Group, reading: Reading
    ) -> Skeleton | None:
        """The rendering `supporter` shares with their group, rendered on first use (or None)."""
        if group == ALONE:
            return None
        if group not in self._skeletons:
            self._skeletons = self._skeletons if len(self._skeletons) < _CACHE_LIMIT else {}
            self._skeletons[group] = self._render_skeleton(send, supporter, group, reading)
        return self._skeletons[group]

    def _render(
        self, send: Send, supporter: Supporter, send_date: date, unsubscribe_url: str
    ) -> RenderedEmail:
        """`send`'s template rendered for one supporter (or stand-in)."""
        return self.renderer.render_send(send, supporter, send_date, unsubscribe_url)

    def _render_skeleton(
        self, send: Send, supporter: Supporter, group: Group, reading: Reading
    ) -> Skeleton | None:
        """The email rendered for `supporter` with markers for values, as a skeleton (None:
        the group's emails are rendered one by one)."""
        try:
            link = f"{self.public_url}/u/{UNSUBSCRIBE_TAG}"
            rendered = self.renderer.render_shared(send, supporter, reading, group.send_date, link)
        except OutreachError:
            return None  # rendered one by one, each raising (or not) as it would alone
        skeleton = None
        if markers_stand_alone(rendered.raw_html):
            skeleton = skeleton_of(
                rendered.subject, rendered.text, rendered.html, rendered.language
            )
        if skeleton is not None and not self._fills_as_alone(
            send, supporter, group, skeleton, reading
        ):
            skeleton = None
        if skeleton is None:
            log.info(
                "template %s (%s) renders for each supporter: a value does not come out whole",
                send.template,
                rendered.language,
            )
        return skeleton

    def _fills_as_alone(
        self, send: Send, supporter: Supporter, group: Group, skeleton: Skeleton, reading: Reading
    ) -> bool:
        """Whether the skeleton filled for `supporter` is their email rendered alone (a check
        of the analysis, once per rendering)."""
        token = "TOKEN"
        rendered = self._render(send, supporter, group.send_date, f"{self.public_url}/u/{token}")
        filled = skeleton.fill(skeleton_values(skeleton, reading.values, token))
        return filled == (rendered.subject, rendered.text, rendered.html)


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
