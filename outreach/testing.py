"""Test doubles outreach ships: in-memory transports that can be scripted, and a fixed clock.

They keep what they are given in memory (one process: not across helper processes) and can
be told to refuse a batch, fail part of the way, crash mid-batch or hold a batch until the
test lets it go, so that every delivery rule can be tried without a server.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from outreach.errors import DeliveryError
from outreach.messages import Outcome, OutgoingEmail, OutgoingPost
from outreach.transports.base import PartialDelivery


class FixedClock:
    """A clock that reads `now` until the test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move the clock on by `delta`."""
        self.now += delta


class MemoryEmailTransport:
    """Accepts emails into `emails`, as scripted.

    - `refuse`: every batch raises `DeliveryError` with this reason (nothing accepted);
    - `reject`: these supporters' emails are refused for good (a recipient's own refusal);
    - `fail_after`: after accepting this many emails in all, the rest of the batch raises
      `PartialDelivery` (the provider went away mid-batch);
    - `crash_on_batch`: that batch (1 = the first) raises `SystemExit` before anything is
      accepted, as a process killed mid-batch;
    - `hold`: each batch waits until `gate` is set (`inside` is set while one waits).
    """

    name = "memory"
    schedules_ahead = timedelta(0)

    def __init__(
        self,
        *,
        batch_size: int = 10,
        refuse: str | None = None,
        reject: Collection[int] = (),
        fail_after: int | None = None,
        crash_on_batch: int | None = None,
        hold: bool = False,
    ) -> None:
        self.batch_size = batch_size
        self.refuse = refuse
        self.reject = frozenset(reject)
        self.fail_after = fail_after
        self.crash_on_batch = crash_on_batch
        self.emails: list[OutgoingEmail] = []
        self.batches = 0
        self.busy = 0
        self.most_busy = 0
        """The most batches in hand at once."""
        self.closed = False
        self.inside = threading.Event()
        self.gate = threading.Event()
        if not hold:
            self.gate.set()
        self._lock = threading.Lock()

    @property
    def received(self) -> list[tuple[str, int]]:
        """(reminder, supporter id) of every accepted email, in order."""
        return [(email.reminder, email.supporter_id) for email in self.emails]

    def send(self, emails: Sequence[OutgoingEmail]) -> list[Outcome]:
        """Accept `emails` as scripted."""
        with self._lock:
            self.batches += 1
            batch = self.batches
            self.busy += 1
            self.most_busy = max(self.most_busy, self.busy)
        try:
            self.inside.set()
            self.gate.wait(timeout=30)
            if self.refuse is not None:
                raise DeliveryError(self.refuse)
            if batch == self.crash_on_batch:
                raise SystemExit("the process died mid-batch")
            return self._accept(emails)
        finally:
            with self._lock:
                self.busy -= 1

    def _accept(self, emails: Sequence[OutgoingEmail]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for email in emails:
            with self._lock:
                if self.fail_after is not None and len(self.emails) >= self.fail_after:
                    raise PartialDelivery("the provider went away mid-batch", outcomes)
                if email.supporter_id in self.reject:
                    outcomes.append(Outcome(email.supporter_id, False, "550 no such mailbox"))
                    continue
                self.emails.append(email)
            outcomes.append(Outcome(email.supporter_id, True))
        return outcomes

    def close(self) -> None:
        """Nothing to close; remembers that it was."""
        self.closed = True


class MemoryPostTransport:
    """Accepts the organization's posts into `posts`; `refuse` makes every post fail."""

    name = "memory"

    def __init__(self, *, refuse: str | None = None) -> None:
        self.refuse = refuse
        self.posts: list[OutgoingPost] = []

    def publish(self, post: OutgoingPost) -> Outcome:
        """Accept `post`, or raise `DeliveryError` when scripted to refuse."""
        if self.refuse is not None:
            raise DeliveryError(self.refuse)
        self.posts.append(post)
        return Outcome(0, True, f"memory:{len(self.posts)}")
