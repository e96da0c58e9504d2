"""What a run reports: progress while it sends, and what it did for each send."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


class ProgressReporter(Protocol):
    """Where dispatch says how far along it is."""

    def start(self, label: str, total: int) -> None:
        """A send begins with `total` emails to go."""

    def advance(self, count: int) -> None:
        """`count` more emails were handled."""


class Silent:
    """Progress nobody watches."""

    def start(self, label: str, total: int) -> None:
        pass

    def advance(self, count: int) -> None:
        pass


@dataclass
class SendReport:
    """What one run did for one send."""

    campaign: str
    reminder: str
    sent: int = 0
    scheduled: int = 0
    """Of `sent`, how many the provider holds until their time (`send_at`)."""
    failed: int = 0
    announced: bool = False
    announcement_trouble: str = ""
    """Why the announcement could not be posted (it stays due: the next run tries again)."""
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)


@dataclass
class RunReport:
    """What one run did."""

    now: datetime
    dry_run: bool
    sends: list[SendReport] = field(default_factory=list)

    @property
    def sent(self) -> int:
        """Emails accepted (or, in a dry run, that would be sent)."""
        return sum(s.sent for s in self.sends)

    @property
    def failed(self) -> int:
        """Emails a transport refused."""
        return sum(s.failed for s in self.sends)

    @property
    def troubled(self) -> bool:
        """Whether anything failed: an email refused, an announcement not posted."""
        return self.failed > 0 or any(s.announcement_trouble for s in self.sends)
