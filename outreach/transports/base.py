"""The transport interfaces and the messages they carry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from outreach.store.ledger import Outcome


@dataclass(frozen=True)
class OutgoingEmail:
    """One personalized email, ready for any transport to encode its own way."""

    supporter_id: int
    campaign: str
    reminder: str
    to_email: str
    to_name: str
    from_email: str
    from_name: str
    subject: str
    text: str
    html: str
    language: str
    message_id: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OutgoingPost:
    """The organization's own post (an announcement) for one reminder."""

    campaign: str
    reminder: str
    text: str
    language: str


class EmailTransport(Protocol):
    """Delivers emails; says for each whether it was accepted.

    `send` returns one outcome per email. It raises `DeliveryError` only when it accepted
    none of the batch (bad credentials, the provider refusing us): the claims are then
    released, and nothing is recorded as sent.
    """

    name: str
    batch_size: int

    def send(self, emails: Sequence[OutgoingEmail]) -> list[Outcome]:
        """Hand a batch over; one outcome per email (by supporter id)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class PostTransport(Protocol):
    """Publishes the organization's posts."""

    name: str

    def publish(self, post: OutgoingPost) -> Outcome:
        """Publish one post; the outcome's supporter id is the organization's (0)."""
        ...
