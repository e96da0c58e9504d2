"""Shards of a send: every supporter id in exactly one, whatever the ids and the count."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from outreach.store.audience import Shard, shard_ranges


def _holding(shards: list[Shard], supporter_id: int) -> list[Shard]:
    return [
        s for s in shards if s.first <= supporter_id and (s.last is None or supporter_id <= s.last)
    ]


@given(
    st.integers(min_value=0, max_value=10**7),
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=1, max_value=64),
    st.data(),
)
def test_every_id_from_the_lowest_on_is_in_exactly_one_shard(
    low: int, span: int, count: int, data: st.DataObject
) -> None:
    high = low + span
    shards = shard_ranges(low, high, count)
    assert len(shards) == count
    ids = data.draw(st.lists(st.integers(min_value=low, max_value=high + 1000), max_size=50))
    for supporter_id in [low, high, high + 1, *ids]:
        assert len(_holding(shards, supporter_id)) == 1


def test_shards_are_ranges_of_about_the_same_span() -> None:
    assert shard_ranges(1, 100, 4) == [Shard(1, 25), Shard(26, 50), Shard(51, 75), Shard(76, None)]
