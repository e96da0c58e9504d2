"""When the worker fires: one instant per send and time zone, within the horizon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from outreach.campaign.loader import load_schedule
from outreach.campaign.model import Audience
from outreach.clock import WorkerClock
from outreach.timeline import Send, queued_send, reminder_sends
from outreach.worker.scheduler import JOB_DEFAULTS, fire_instants, fire_job_id

REPO = Path(__file__).resolve().parents[2]
SCHEDULE = load_schedule(REPO / "schedules.yaml")
ZONES = ("America/Toronto", "America/Vancouver", "America/Halifax", "America/St_Johns")
MARCH_1 = datetime(2018, 3, 1, tzinfo=UTC)


def _at(hour: int, minute: int = 0) -> datetime:
    return MARCH_1.replace(hour=hour, minute=minute)


def test_each_zone_fires_at_its_own_nine_in_utc() -> None:
    found = fire_instants(reminder_sends(SCHEDULE), ZONES, MARCH_1, MARCH_1 + timedelta(hours=48))
    assert found == {
        ("mexico-refugees", "two-weeks-before", _at(12, 30)),  # St. John's, UTC-3:30
        ("mexico-refugees", "two-weeks-before", _at(13)),  # Halifax
        ("mexico-refugees", "two-weeks-before", _at(14)),  # Toronto
        ("mexico-refugees", "two-weeks-before", _at(17)),  # Vancouver
    }


def test_the_horizon_excludes_its_start_and_includes_its_end() -> None:
    sends = list(reminder_sends(SCHEDULE))
    found = fire_instants(sends, ZONES, _at(13), _at(14))
    assert found == {("mexico-refugees", "two-weeks-before", _at(14))}
    assert fire_instants(sends, ZONES, _at(17), _at(17) + timedelta(hours=48)) == set()


def test_zones_at_the_same_offset_share_one_instant() -> None:
    found = fire_instants(
        reminder_sends(SCHEDULE),
        ("America/Toronto", "America/New_York", "America/Montreal"),
        MARCH_1,
        MARCH_1 + timedelta(days=1),
    )
    assert found == {("mexico-refugees", "two-weeks-before", _at(14))}


def test_a_queued_reminder_fires_at_its_instant_or_each_local_time() -> None:
    campaign = SCHEDULE.campaigns["mexico-refugees"]

    def queued(queued_id: int, at: datetime) -> Send:
        return queued_send(
            campaign, queued_id, "last-call", None, at, (), Audience(), timedelta(days=1)
        )

    instant = queued(7, datetime(2018, 3, 1, 15, 30, tzinfo=UTC))
    local = queued(8, datetime(2018, 3, 1, 9, 0))  # each supporter's local time
    found = fire_instants([instant, local], ZONES, MARCH_1, MARCH_1 + timedelta(days=1))
    assert found == {
        ("mexico-refugees", "queued-7", _at(15, 30)),
        ("mexico-refugees", "queued-8", _at(12, 30)),
        ("mexico-refugees", "queued-8", _at(13)),
        ("mexico-refugees", "queued-8", _at(14)),
        ("mexico-refugees", "queued-8", _at(17)),
    }


def test_fire_job_ids_name_the_send_and_the_utc_instant() -> None:
    toronto_nine = datetime.fromisoformat("2018-03-01T09:00:00-05:00")
    assert (
        fire_job_id("mexico-refugees", "two-weeks-before", toronto_nine)
        == "fire:mexico-refugees:two-weeks-before:2018-03-01T14:00:00+00:00"
    )


def test_the_worker_clock_starts_at_now_and_maps_back_to_real_time() -> None:
    clock = WorkerClock.starting_at(_at(14))
    assert abs(clock.now() - _at(14)) < timedelta(minutes=1)
    assert abs(clock.real(_at(15)) - (datetime.now(UTC) + timedelta(hours=1))) < timedelta(
        minutes=1
    )
    assert WorkerClock.starting_at(None).offset == timedelta(0)


def test_lateness_is_never_apschedulers_business() -> None:
    assert JOB_DEFAULTS == {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
