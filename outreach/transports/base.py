"""The transport interfaces: what every email and post transport offers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from outreach.errors import DeliveryError
from outreach.messages import Outcome, OutgoingEmail, OutgoingPost


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
