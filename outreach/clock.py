"""What time it is: the worker's clock (real time, or shifted to start at `--now`), and the
instants users type for `--now` and `--at` (ISO 8601)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from outreach.errors import OutreachError


def parse_datetime(text: str, option: str) -> datetime:
    """ISO 8601 date or date-time, naive or with an offset; a clear error otherwise."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise OutreachError(
            f"{option} '{text}' is not an ISO 8601 time (e.g. 2018-03-01T09:00 or "
            "2018-03-01T14:00:00Z)"
        ) from None


def parse_now(text: str | None, default_timezone: str) -> datetime:
    """`--now` as an aware UTC instant; a naive time is read in the schedule's time zone."""
    if text is None:
        return datetime.now(UTC)
    moment = parse_datetime(text, "--now")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(default_timezone))
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class WorkerClock:
    """Real time, shifted by `offset` (`outreach run --now T` starts the clock at T)."""

    offset: timedelta = timedelta(0)

    @classmethod
    def starting_at(cls, start: datetime | None) -> WorkerClock:
        """A clock that reads `start` now and runs at real speed (real time when None)."""
        return cls(timedelta(0) if start is None else start - datetime.now(UTC))

    def now(self) -> datetime:
        """The worker's current time (UTC)."""
        return datetime.now(UTC) + self.offset

    def real(self, instant: datetime) -> datetime:
        """The real time at which this clock reads `instant`."""
        return instant - self.offset
