"""The timeline: each supporter's local wall-clock time, DST, and expiry windows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from outreach.campaign.model import (
    Audience,
    Campaign,
    Milestone,
    Organization,
    Reminder,
    Schedule,
    Text,
)
from outreach.timeline import (
    Send,
    due_zones,
    next_milestone,
    queued_send,
    reminder_sends,
    upcoming,
)


def _campaign(milestone_when: date | datetime, reminder: Reminder) -> Campaign:
    return Campaign(
        id="c",
        title=Text.plain("C"),
        url="https://example.org",
        milestones={"m": Milestone("m", Text.plain("M"), milestone_when)},
        reminders={reminder.id: reminder},
    )


def _send(milestone_when: date | datetime, **reminder: object) -> Send:
    values: dict[str, object] = {"id": "r", "milestone": "m", "offset": timedelta(days=-14)}
    values["template"] = "t"
    values.update(reminder)
    rem = Reminder(**values)  # type: ignore[arg-type]
    schedule = Schedule(
        organization=Organization("Org", "info@example.org", "1 Main St"),
        timezone="America/Toronto",
        languages=("en",),
        campaigns={"c": _campaign(milestone_when, rem)},
    )
    return next(reminder_sends(schedule))


def test_halifax_and_vancouver_each_get_their_own_nine_oclock() -> None:
    send = _send(date(2018, 3, 15), at=time(9, 0))
    assert send.fires_at("America/Halifax") == datetime(2018, 3, 1, 13, 0, tzinfo=UTC)
    assert send.fires_at("America/Vancouver") == datetime(2018, 3, 1, 17, 0, tzinfo=UTC)


def test_newfoundland_half_hour_and_saskatchewan_without_dst() -> None:
    # 2018-03-14 is after the DST change of 2018-03-11: Regina stays at UTC-6.
    send = _send(date(2018, 3, 15), offset=timedelta(days=-1), at=time(9, 0))
    assert send.fires_at("America/St_Johns") == datetime(2018, 3, 14, 11, 30, tzinfo=UTC)
    assert send.fires_at("America/Regina") == datetime(2018, 3, 14, 15, 0, tzinfo=UTC)
    assert send.fires_at("America/Winnipeg") == datetime(2018, 3, 14, 14, 0, tzinfo=UTC)


def test_wall_clock_is_kept_across_a_dst_change() -> None:
    # Two weeks before 2018-03-20 is 2018-03-06, before DST: 09:00 EST is 14:00 UTC.
    before = _send(date(2018, 3, 20), at=time(9, 0))
    assert before.fires_at("America/Toronto") == datetime(2018, 3, 6, 14, 0, tzinfo=UTC)
    after = _send(date(2018, 3, 29), at=time(9, 0))
    assert after.fires_at("America/Toronto") == datetime(2018, 3, 15, 13, 0, tzinfo=UTC)


def test_milestone_with_an_offset_is_one_instant_shifted() -> None:
    moment = datetime.fromisoformat("2018-03-15T10:00:00-05:00")
    send = _send(moment, offset=timedelta(hours=-2))
    assert send.fires_at("America/Vancouver") == datetime(2018, 3, 15, 13, 0, tzinfo=UTC)
    assert send.fires_at("America/Halifax") == datetime(2018, 3, 15, 13, 0, tzinfo=UTC)


def test_due_only_inside_the_expiry_window() -> None:
    send = _send(date(2018, 3, 15), at=time(9, 0), expires=timedelta(hours=6))
    fires = datetime(2018, 3, 1, 14, 0, tzinfo=UTC)
    assert not send.is_due("America/Toronto", fires - timedelta(seconds=1))
    assert send.is_due("America/Toronto", fires)
    assert send.is_due("America/Toronto", fires + timedelta(hours=5, minutes=59))
    assert not send.is_due("America/Toronto", fires + timedelta(hours=6))


def test_due_zones_picks_the_zones_whose_window_is_open() -> None:
    send = _send(date(2018, 3, 15), at=time(9, 0), expires=timedelta(hours=1))
    now = datetime(2018, 3, 1, 14, 30, tzinfo=UTC)
    zones = ["America/Halifax", "America/Toronto", "America/Vancouver"]
    assert due_zones(send, zones, now) == ("America/Toronto",)


def test_local_date_counts_from_the_supporters_own_day() -> None:
    send = _send(date(2018, 3, 15), at=time(23, 30), offset=timedelta(days=-1))
    assert send.local_date("America/Vancouver") == date(2018, 3, 14)


def test_queued_naive_time_is_local_and_aware_time_is_one_instant() -> None:
    campaign = _send(date(2018, 3, 15)).campaign
    local = queued_send(
        campaign, 7, "t", None, datetime(2018, 3, 2, 9, 0), (), Audience(), timedelta(days=1)
    )
    assert local.key == "queued-7"
    assert local.fires_at("America/Halifax") == datetime(2018, 3, 2, 13, 0, tzinfo=UTC)
    assert local.fires_at("America/Vancouver") == datetime(2018, 3, 2, 17, 0, tzinfo=UTC)
    instant = datetime(2018, 3, 2, 9, 0, tzinfo=UTC)
    shared = queued_send(campaign, 8, "t", None, instant, (), Audience(), timedelta(days=1))
    assert shared.fires_at("America/Halifax") == shared.fires_at("America/Vancouver") == instant


def test_upcoming_spans_first_fire_to_last_expiry() -> None:
    send = _send(date(2018, 3, 15), at=time(9, 0))
    zones = ["America/Halifax", "America/Vancouver"]
    start = datetime(2018, 2, 28, tzinfo=UTC)
    [(found, first, last)] = list(upcoming([send], zones, start, start + timedelta(days=7)))
    assert found is send
    assert first == datetime(2018, 3, 1, 13, 0, tzinfo=UTC)
    assert last == datetime(2018, 3, 2, 17, 0, tzinfo=UTC)
    assert not list(upcoming([send], zones, start, start + timedelta(hours=1)))


def test_next_milestone_is_the_first_on_or_after_the_day() -> None:
    campaign = _send(date(2018, 3, 15)).campaign
    assert next_milestone(campaign, date(2018, 3, 15)) is campaign.milestones["m"]
    assert next_milestone(campaign, date(2018, 4, 1)) is campaign.milestones["m"]
