"""Backoff delays and waiting for a rate-limit reset."""

from __future__ import annotations

import random

from outreach.transports.retry import backoff_delay, backoff_delays, sleep_until_reset


def test_delays_grow_exponentially_within_their_jittered_half_and_stop_at_the_cap() -> None:
    delays = list(backoff_delays(7, base=1.0, cap=20.0, rng=random.Random(7)))
    assert len(delays) == 7
    for attempt, delay in enumerate(delays):
        ceiling = min(20.0, 2.0**attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert delays[-1] <= 20.0


def test_jitter_differs_between_clients_but_a_seeded_one_repeats() -> None:
    first = list(backoff_delays(5, 1.0, 60.0, random.Random(1)))
    assert first == list(backoff_delays(5, 1.0, 60.0, random.Random(1)))
    assert first != list(backoff_delays(5, 1.0, 60.0, random.Random(2)))


def test_a_huge_attempt_number_stays_at_the_cap() -> None:
    assert 30.0 <= backoff_delay(10_000, 1.0, 60.0) <= 60.0


def test_a_zero_base_never_waits() -> None:
    assert list(backoff_delays(3, 0.0, 60.0)) == [0.0, 0.0, 0.0]


def test_sleep_until_reset_waits_for_the_reset_but_never_past_the_limit() -> None:
    slept: list[float] = []
    assert sleep_until_reset(1_000.0, lambda: 990.0, slept.append, limit=60.0) == 10.0
    assert sleep_until_reset(1_000.0, lambda: 0.0, slept.append, limit=60.0) == 60.0
    assert sleep_until_reset(1_000.0, lambda: 1_005.0, slept.append, limit=60.0) == 0.0
    assert slept == [10.0, 60.0]
