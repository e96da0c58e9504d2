"""The transport interfaces and the messages they carry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from outreach.errors import DeliveryError
from outreach.store.ledger import Outcome
from outreach.substitution import Skeleton


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
    skeleton: Skeleton | None = None
    """The rendering this email shares with others, when it has one: subject, text and html
    are it filled with `substitutions` (SendGrid fills it itself, for many at once)."""
    substitutions: Mapping[str, str] = field(default_factory=dict)
    send_at: datetime | None = None
    """When the email is due; a transport that can schedule (SendGrid) holds it until then."""


@dataclass(frozen=True)
class OutgoingPost:
    """The organization's own post (an announcement) for one reminder."""

    campaign: str
    reminder: str
    text: str
    language: str


class PartialDelivery(DeliveryError):
    """Delivery trouble after part of a batch was accepted: `outcomes` says what was."""

    def __init__(self, message: str, outcomes: Sequence[Outcome]) -> None:
        super().__init__(message)
        self.outcomes = list(outcomes)


class EmailTransport(Protocol):
    """Delivers emails; says for each whether it was accepted.

    `send` returns one outcome per email. It raises `DeliveryError` only when it accepted
    none of the batch (bad credentials, the provider refusing us): the claims are then
    released, and nothing is recorded as sent. Trouble after part of the batch was accepted
    raises `PartialDelivery`: that part is recorded, the rest released.
    """

    name: str
    batch_size: int
    schedules_ahead: timedelta
    """How long before its time an email may be handed over: the transport (the provider)
    holds it until `send_at`. Zero: emails are handed over when due."""

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
