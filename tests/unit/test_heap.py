"""The collector during a send: the heap before it frozen, young collections spaced out,
cyclic garbage still collected, everything as it was afterwards."""

from __future__ import annotations

import gc
import weakref

import pytest

from outreach.delivery.heap import SEND_YOUNG_THRESHOLD, steady_heap


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_during_a_send_the_heap_before_is_frozen_and_everything_is_undone_after() -> None:
    before = gc.get_threshold(), gc.get_freeze_count()
    with steady_heap():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == SEND_YOUNG_THRESHOLD
        assert gc.get_threshold()[1:] == before[0][1:]
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_a_send_that_fails_undoes_it_too() -> None:
    before = gc.get_threshold(), gc.get_freeze_count()
    with pytest.raises(RuntimeError), steady_heap():
        raise RuntimeError("the transport went away")
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_cyclic_garbage_made_during_a_send_is_collected_during_it() -> None:
    freed = 0

    def count() -> None:
        nonlocal freed
        freed += 1

    with steady_heap():
        for _ in range(SEND_YOUNG_THRESHOLD * 3):
            weakref.finalize(_Cycle(), count)
        assert freed > SEND_YOUNG_THRESHOLD


def test_a_collector_turned_off_stays_off() -> None:
    before = gc.get_threshold()
    gc.set_threshold(0, *before[1:])
    try:
        with steady_heap():
            assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)
