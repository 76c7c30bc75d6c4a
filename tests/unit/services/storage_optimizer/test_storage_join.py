"""The storage optimiser's event-time join: the plan at origin t uses the demand, wind and CO2
forecasts issued at t; an origin missing a series is planned once the series' watermark
passed it, after the grace, or (live clock only) after the input was idle; the SoC chains
from the previous origin's plan."""

from __future__ import annotations

import math

import pytest

from gridstream.bus.processor import InRecord
from gridstream.bus.state import StateView
from gridstream.core.storage import limit_violations
from gridstream.schemas.alert_pb2 import SystemEvent
from gridstream.schemas.storage_pb2 import StorageSchedule
from gridstream.services.storage_optimizer.messages import carried_over, schedule_from_proto
from gridstream.services.storage_optimizer.state import (
    REGION_STATE_CODEC,
    JoinEntry,
    OriginForecasts,
    RegionJoin,
    RegionState,
)

from .join_helpers import (
    BY_REGION,
    HOUR,
    TOPICS,
    Driver,
    comparable,
    fleets,
    forecast,
    origin,
    processor,
    schedules,
)

SERIES = ("demand", "wind", "co2")


def lockstep(n: int, skip: set[tuple[str, int]] | None = None) -> list:  # type: ignore[type-arg]
    return [forecast(s, i) for i in range(n) for s in SERIES if (s, i) not in (skip or set())]


def ids(i: int, *series: str) -> list[str]:
    return sorted(forecast(s, i).forecast_id for s in series)


def driver(**options: object) -> Driver:
    return Driver(processor(**options), StateView(0))


def head(d: Driver) -> RegionState:
    state = d.view.get("ALL")
    assert isinstance(state, RegionState)
    return state


def origin_entries(d: Driver) -> list[str]:
    keys = list(d.view.keys())
    return sorted(k for k in keys if isinstance(d.view.get(k), OriginForecasts))


def test_an_origin_is_planned_once_all_its_forecasts_are_there() -> None:
    d = driver()
    assert d.send([forecast("demand", 0), forecast("co2", 0)]) == []
    assert schedules(d.send([forecast("demand", 1)])) == []  # origin 0 still lacks wind
    [s0] = schedules(d.send([forecast("wind", 0)]))
    assert s0.schedule_id == f"ALL@{origin(0)}" and s0.issue_time_ms == origin(0)
    assert sorted(s0.forecast_ids) == ids(0, *SERIES)
    assert s0.reason == "" and not s0.fallback
    assert [s.ts_ms for s in s0.steps][:2] == [origin(0) + 900_000, origin(0) + 1_800_000]
    # origin 1 waits for its own wind and CO2, however far demand runs ahead
    assert d.send([forecast("demand", 2), forecast("wind", 1)]) == []
    [s1] = schedules(d.send([forecast("co2", 1)]))
    assert s1.issue_time_ms == origin(1) and sorted(s1.forecast_ids) == ids(1, *SERIES)
    assert list(head(d).waiting) == [origin(2)]  # only what waits
    assert origin_entries(d) == [f"ALL@{origin(2)}"]


def test_a_missing_forecast_is_decided_when_its_series_watermark_passes_the_origin() -> None:
    d = driver()
    d.send(lockstep(1))
    assert d.send([forecast("demand", 1), forecast("wind", 1)]) == []  # co2@1 may still come
    out = d.send([forecast("co2", 2)])  # a later CO2 forecast: co2@1 never will
    [s1] = schedules(out)
    assert s1.issue_time_ms == origin(1) and not s1.fallback
    assert s1.reason.startswith("missing at this origin: co2 (a later forecast came instead)")
    co2_0 = forecast("co2", 0).forecast_id
    assert f"co2 from {co2_0}" in s1.reason
    assert sorted(s1.forecast_ids) == sorted([*ids(1, "demand", "wind"), co2_0])
    [s2] = schedules(d.send([forecast("demand", 2), forecast("wind", 2)]))
    assert s2.issue_time_ms == origin(2) and s2.reason == ""


def test_a_series_never_forecast_gives_the_hold_schedule_and_says_so() -> None:
    d = driver()
    d.send([forecast("demand", 0), forecast("wind", 0)])
    out = d.send([forecast("co2", 1)])  # co2's watermark passed origin 0: nothing to use
    [s0] = schedules(out)
    assert s0.fallback and s0.issue_time_ms == origin(0)
    assert "missing at this origin: co2" in s0.reason and "no co2 forecast yet" in s0.reason
    assert all(s.charge_mw == 0 and s.discharge_mw == 0 for s in s0.steps)
    assert sorted(s0.forecast_ids) == ids(0, "demand", "wind")
    [event] = [r.value for r in out if isinstance(r.value, SystemEvent)]
    assert event.labels["schedule_id"] == s0.schedule_id


def test_after_the_grace_the_oldest_origin_is_planned_without_the_late_series() -> None:
    d = driver(grace_ms=3 * HOUR)
    d.send(lockstep(1))
    waiting = []
    for i in range(1, 4):  # CO2 stalls; origins 1..3 wait
        waiting += d.send([forecast("demand", i), forecast("wind", i)])
    assert waiting + d.send([forecast("demand", 4)]) == []  # 3 h past origin 1: the grace
    [s1] = schedules(d.send([forecast("demand", 5)]))  # 4 h past origin 1: more than the grace
    assert s1.issue_time_ms == origin(1)
    assert "missing at this origin: co2 (not there within the grace of 3 h)" in s1.reason
    assert f"co2 from {forecast('co2', 0).forecast_id}" in s1.reason
    # the late CO2 of origin 1 arrives: that origin is not planned again; it is used later
    assert d.send([forecast("co2", 1)]) == []
    assert sorted(head(d).waiting) == [origin(2), origin(3), origin(4), origin(5)]
    s2, s3 = schedules(d.send([forecast("co2", 3)]))  # co2's watermark passed origin 2
    assert s2.issue_time_ms == origin(2) and "a later forecast came instead" in s2.reason
    assert forecast("co2", 1).forecast_id in s2.forecast_ids
    assert s3.issue_time_ms == origin(3) and s3.reason == ""  # origin 3 has all three now
    assert d.send([forecast("wind", 4)]) == []  # origin 4 waits for co2 again (1 h, no grace)


def test_the_live_clock_moves_an_idle_input_on_and_the_schedule_says_so() -> None:
    live = driver(clock="live", idle_advance_s=30.0)
    event = driver()  # the default event clock: punctuation never plans
    for d in (live, event):
        d.send(lockstep(1))
        d.send([forecast("demand", 1), forecast("wind", 1)])  # co2@1 does not come
    wall = 1_900_000_000_000
    for now in (wall, wall + 10_000, wall + 29_000):
        assert list(live.proc.punctuate(now, {0: live.view})) == []
    live.send([forecast("demand", 2)])  # input again: the idle wait starts over
    for now in (wall + 31_000, wall + 40_000, wall + 60_000):
        assert list(live.proc.punctuate(now, {0: live.view})) == []
    [s1] = schedules(live.proc.punctuate(wall + 72_000, {0: live.view}))
    assert s1.issue_time_ms == origin(1)
    assert "moved on by the wall clock: forecast input idle 30 s" in s1.reason
    assert "missing at this origin: co2" in s1.reason
    state = head(live)
    assert list(state.waiting) == [origin(2)] and state.solved_issue_ms == origin(1)
    # saved: the head; the planned origin is deleted, and as it was buffered and planned
    # since the last flush, the changelog never held it: no tombstone
    dirty = dict(live.view.take_dirty())
    assert live.view.get(f"ALL@{origin(1)}") is None and f"ALL@{origin(1)}" not in dirty
    assert dirty["ALL"] is state
    for now in (wall, wall + 100_000, wall + 10**9):
        assert list(event.proc.punctuate(now, {0: event.view})) == []


def test_the_soc_carries_over_from_the_previous_origin_whatever_the_arrival_order() -> None:
    n = 4
    by_series = [forecast(s, i) for s in SERIES for i in range(n)]  # demand 0..3, wind, co2
    a, b = driver(), driver()
    out_a, out_b = a.send(lockstep(n)), b.send(by_series)
    assert comparable(out_a) == comparable(out_b)
    plans = schedules(out_a)
    assert [s.issue_time_ms for s in plans] == [origin(i) for i in range(n)]
    fleet = fleets().for_region("ALL")
    soc = fleet.initial_soc * fleet.energy_mwh
    moved = False
    for previous, current in zip([None, *plans], plans, strict=False):
        if previous is not None:
            soc, _ = carried_over(previous, current.steps[0].ts_ms, soc)
            # the hour of the previous plan that ran before this one started
            ran = [s for s in previous.steps if s.ts_ms < current.steps[0].ts_ms]
            assert len(ran) == 4 and soc == ran[-1].soc_mwh
        moved |= not math.isclose(soc, fleet.initial_soc * fleet.energy_mwh, abs_tol=1.0)
        assert limit_violations(fleet, schedule_from_proto(current, soc)) == []
    assert moved  # the battery did move, so a wrong carry-over would break the SoC check


def test_duplicates_and_out_of_order_forecasts_are_ignored() -> None:
    d = driver()
    first = d.send(lockstep(2))
    assert [s.issue_time_ms for s in schedules(first)] == [origin(0), origin(1)]
    assert d.send(lockstep(2)) == []  # replayed: each origin is planned once
    assert d.send([forecast("co2", 0)]) == []
    assert head(d).waiting == {} and origin_entries(d) == []


def test_forecast_output_records_are_forwarded_by_region_and_others_ignored() -> None:
    proc = processor()
    view: StateView[JoinEntry] = StateView(0)
    f = forecast("co2", 0)
    [out] = proc.process(InRecord(TOPICS.forecasts, 0, 0, f.series_id, f, 0), view)
    assert (out.topic, out.key, out.value) == (BY_REGION, "ALL", f)
    price = forecast("co2", 0)
    price.field, price.forecast_id = "PRICE", "ALL/PRICE@0"
    assert list(proc.process(InRecord(BY_REGION, 0, 1, "ALL", price, 0), view)) == []
    assert view.get("ALL") is None  # the mixed objective does not need prices: not kept


def test_the_join_state_round_trips_through_its_codec() -> None:
    d = driver(grace_ms=2 * HOUR)
    d.send(lockstep(2))
    d.send([forecast("demand", 2), forecast("wind", 2), forecast("demand", 3)])
    d.send([forecast("demand", 5)])  # grace: origin 2 planned without co2
    state = head(d)
    assert state.waiting and state.latest and state.schedule
    keys = origin_entries(d)
    assert keys == [f"ALL@{origin(i)}" for i in (3, 5)]
    for key in ["ALL", *keys]:
        entry = d.view.get(key)
        assert entry is not None
        restored = REGION_STATE_CODEC.from_bytes(REGION_STATE_CODEC.to_bytes(entry))
        assert restored == entry and type(restored) is type(entry)
        assert REGION_STATE_CODEC.to_bytes(restored) == REGION_STATE_CODEC.to_bytes(entry)
    bucket = d.view.get(keys[-1])
    assert isinstance(bucket, OriginForecasts) and bucket.forecasts == {
        "demand": forecast("demand", 5)
    }


def test_a_changelog_entry_from_before_the_join_still_restores() -> None:
    import base64
    import json

    old = {
        "region": "ALL",
        "forecasts": {
            s: base64.b64encode(forecast(s, 3).SerializeToString()).decode() for s in SERIES
        },
        "schedule": None,
        "initial_soc_mwh": 120.0,
        "solved_issue_ms": origin(3),
    }
    state = REGION_STATE_CODEC.from_bytes(json.dumps(old).encode())
    assert isinstance(state, RegionState)
    assert state.waiting == {} and state.watermarks == {s: origin(3) for s in SERIES}
    assert state.latest["co2"] == forecast("co2", 3)
    view: StateView[JoinEntry] = StateView(0)
    view.load("ALL", state)
    join = RegionJoin(view, "ALL")
    assert not join.accept("co2", forecast("co2", 3))
    assert join.accept("co2", forecast("co2", 4)) and list(state.waiting) == [origin(4)]
    assert join.pending() == {origin(4): {"co2": forecast("co2", 4)}}


@pytest.mark.parametrize("missing", ["demand", "wind", "co2"])
def test_each_required_series_is_waited_for(missing: str) -> None:
    d = driver()
    present = [forecast(s, 0) for s in SERIES if s != missing]
    assert d.send(present) == []
    [s0] = schedules(d.send([forecast(missing, 0)]))
    assert isinstance(s0, StorageSchedule) and s0.reason == ""
