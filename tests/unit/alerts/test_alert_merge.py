"""The alert engine's input merge waits for every series (stream) it has seen, however far
the sparse inputs or the other series run ahead, up to a grace of 240 h of data."""

from __future__ import annotations

from gridstream.core.alerts.merge import (
    MERGE_GRACE_MS,
    EventMerge,
    Frontier,
    Held,
    HeldBlock,
    block_of,
    split_due,
)

HOUR = 3_600_000
WIND = "anomalies ALL/WIND_ACTUAL"
DEMAND = "anomalies ALL/SYSTEM_DEMAND"


def test_sparse_events_far_ahead_do_not_move_the_frontier() -> None:
    merge = EventMerge()
    merge.observe(WIND, 0)
    merge.observe(None, 30 * HOUR)  # an upstream event, a day ahead
    assert merge.frontier() == Frontier(0)
    merge.observe(WIND, 31 * HOUR)
    assert merge.frontier() == Frontier(31 * HOUR)


def test_a_series_behind_the_others_of_its_partition_is_waited_for() -> None:
    merge = EventMerge()
    merge.observe(WIND, 0)
    merge.observe(DEMAND, 0)
    merge.observe(DEMAND, 72 * HOUR)  # three days ahead: well within the grace
    assert merge.frontier() == Frontier(0)
    merge.observe(WIND, 10 * HOUR)
    assert merge.frontier() == Frontier(10 * HOUR)


def test_a_series_lagging_past_the_grace_is_named_and_its_records_are_late() -> None:
    merge = EventMerge()
    merge.observe(WIND, 0)
    merge.observe(DEMAND, MERGE_GRACE_MS + 5 * HOUR)
    front = merge.frontier()
    assert front == Frontier(5 * HOUR, (WIND,))
    merge.advance(front)
    assert merge.is_late(4 * HOUR) and not merge.is_late(5 * HOUR)


def test_idle_streams_are_skipped_and_the_frontier_never_goes_back() -> None:
    merge = EventMerge()
    merge.observe(WIND, 0)
    merge.observe(DEMAND, 3 * HOUR)
    skipped = merge.frontier({WIND})
    assert skipped == Frontier(3 * HOUR)
    merge.advance(skipped)
    assert merge.frontier() == Frontier(3 * HOUR)


def test_only_sparse_records_are_released_without_moving_the_released_time() -> None:
    merge = EventMerge()
    merge.observe(None, 5 * HOUR)
    front = merge.frontier()
    assert front.ms == 5 * HOUR
    merge.advance(front)
    assert merge.released_ms == -1  # the first series' records are not late for it


def test_blocks_split_at_the_frontier_and_round_trip() -> None:
    start = block_of(HOUR + 5)
    assert start == HOUR
    block = HeldBlock(start, [Held(HOUR + 600_000 * i, 0, "k", i, "t", f"p{i}") for i in range(6)])
    due, rest = split_due(block, HOUR + 1_800_000)
    assert [h.payload for h in due] == ["p0", "p1", "p2", "p3"]
    assert [h.payload for h in rest.records] == ["p4", "p5"]
    assert HeldBlock.from_doc(rest.to_doc()) == rest
    merge = EventMerge({WIND: 3}, 4, 2, {HOUR})
    assert EventMerge.from_doc(merge.to_doc()) == merge


def test_the_startup_hold_awaits_a_series_first_seen_hours_after_the_others() -> None:
    merge = EventMerge()
    merge.observe(DEMAND, 0)
    merge.observe(DEMAND, 9 * HOUR)  # wind's first verdict comes 9 h of data later
    assert merge.frontier(hold_ms=12 * HOUR) == Frontier(-1)  # nothing released yet
    assert merge.frontier() == Frontier(9 * HOUR)  # without the hold: wind would be late
    merge.observe(WIND, 0)
    assert not merge.is_late(0)
    merge.observe(DEMAND, 13 * HOUR)
    front = merge.frontier(hold_ms=12 * HOUR)
    assert front == Frontier(0)  # the hold is over; wind is awaited from its start
    merge.advance(front)
    merge.observe(WIND, 12 * HOUR)
    assert merge.frontier(hold_ms=12 * HOUR) == Frontier(12 * HOUR)  # no second hold
    assert EventMerge.from_doc(merge.to_doc()) == merge
