"""The alert engine's timers follow the event clock; the wall clock moves an idle partition
only in live clock mode, and the records produced that way say so."""

from __future__ import annotations

from gridstream.bus.processor import InRecord, OutRecord
from gridstream.bus.state import StateView
from gridstream.bus.topics import TopicNames
from gridstream.core.alerts.merge import MERGE_GRACE_MS, HeldBlock
from gridstream.schemas import alert_pb2, anomaly_pb2, readings_pb2
from gridstream.services.alert_engine.receivers import ReceiverHub
from gridstream.services.alert_engine.rules import DEFAULT_RULES_FILE, RulesHolder
from gridstream.services.alert_engine.service import WALL_NOTE, AlertEngineProcessor
from gridstream.services.alert_engine.state import EngineState, engine_in

from .verdicts import alerts_only, spike_verdict

T0 = 1_599_681_600_000
HOUR = 3_600_000
QUARTER = 900_000
WIND = "ALL/WIND_ACTUAL"


def _processor(clock: str) -> AlertEngineProcessor:
    rules = RulesHolder(DEFAULT_RULES_FILE)
    return AlertEngineProcessor(
        TopicNames(), rules, ReceiverHub([]), clock=clock, idle_advance_s=30
    )


def _reading(
    p: AlertEngineProcessor,
    view: StateView[EngineState],
    ts: int,
    series: str = WIND,
    value: float = 100.0,
) -> list[OutRecord]:
    """A reading and the detector's (normal) verdict on it: the two inputs the engine joins."""
    region, _, field = series.partition("/")
    msg = readings_pb2.CleanReading(
        series_id=series, region=region, field=field, ts_ms=ts, value=value
    )
    verdict = anomaly_pb2.Anomaly(
        record_id=f"{series}@{ts}", series_id=series, region=region, field=field, ts_ms=ts
    )
    out = list(p.process(InRecord(p.topics.preprocessed, view.partition, 0, series, msg, ts), view))
    anomaly = InRecord(p.topics.anomalies, view.partition, 0, series, verdict, ts)
    return alerts_only(out + list(p.process(anomaly, view)))


def _stale(out: list[OutRecord]) -> list[alert_pb2.Alert]:
    return [o.value for o in out if "Stale" in o.value.name]  # type: ignore[attr-defined]


def test_wall_clock_has_no_effect_in_event_mode() -> None:
    p = _processor("event")
    view: StateView[EngineState] = StateView(0)
    _reading(p, view, T0)
    wall = T0 + 10 * 24 * HOUR
    out = list(p.punctuate(wall, {0: view}))
    out += list(p.punctuate(wall + 30 * 24 * HOUR, {0: view}))
    assert out == []
    engine = engine_in(view)
    assert engine is not None and engine.now_ms == T0


def test_a_series_is_stale_on_its_own_clock_not_for_being_behind() -> None:
    p = _processor("event")
    view: StateView[EngineState] = StateView(0)
    _reading(p, view, T0)
    out: list[OutRecord] = []
    for i in range(1, 13):  # three hours of demand, none of wind yet
        out += _reading(p, view, T0 + i * QUARTER, "ALL/SYSTEM_DEMAND", 5000.0)
    assert out == []  # wind is merely behind: its next record may be on its way
    out = _reading(p, view, T0 + 3 * HOUR)  # it was: wind was silent for three hours
    stale = _stale(out)
    states = [a.state for a in stale if a.labels["series"] == WIND]
    assert alert_pb2.ALERT_STATE_FIRING in states and states[-1] == alert_pb2.ALERT_STATE_RESOLVED
    assert {a.starts_at_ms for a in stale} == {T0 + 45 * 60_000}


def test_live_mode_moves_an_idle_partition_and_says_so() -> None:
    p = _processor("live")
    view: StateView[EngineState] = StateView(0)
    _reading(p, view, T0)
    event_ms, wall_ms = p._clock[0]
    assert list(p.punctuate(wall_ms + 10_000, {0: view})) == []  # not idle long enough
    engine = engine_in(view)
    assert engine is not None and engine.now_ms == T0
    out = list(p.punctuate(wall_ms + 3 * HOUR, {0: view}))
    stale = _stale(out)
    assert stale and all(a.annotations["clock"] == WALL_NOTE for a in stale)
    assert all(("gs-alert-clock", b"wall") in o.headers for o in out)
    assert engine.now_ms == event_ms + 3 * HOUR


def _verdict(
    p: AlertEngineProcessor, view: StateView[EngineState], ts: int, series: str, bad: bool
) -> list[OutRecord]:
    verdict = spike_verdict(series, ts, 5000.0, 2 if bad else 0)
    return alerts_only(
        p.process(InRecord(p.topics.anomalies, view.partition, 0, series, verdict, ts), view)
    )


def _anomaly_processor(clock: str) -> AlertEngineProcessor:
    rules = RulesHolder(DEFAULT_RULES_FILE)
    return AlertEngineProcessor(
        TopicNames(), rules, ReceiverHub([]), consume_readings=False, clock=clock
    )


def test_held_records_are_kept_in_hourly_blocks_apart_from_the_engine() -> None:
    p = _anomaly_processor("event")
    view: StateView[EngineState] = StateView(0)
    _verdict(p, view, T0, WIND, False)
    for i in range(12):  # three hours of demand while wind is behind
        _verdict(p, view, T0 + i * QUARTER, "ALL/SYSTEM_DEMAND", i == 5)
    blocks = sorted(set(view.keys()) - {"engine"})
    assert blocks == [f"held@{T0 + h * HOUR}" for h in range(3)]
    assert all(isinstance(view.get(k), HeldBlock) for k in blocks)
    out = _verdict(p, view, T0 + 3 * HOUR, WIND, False)  # wind catches up: all released
    assert any(o.value.name == "AnomalyCritical" for o in out)  # type: ignore[attr-defined]
    assert sorted(view.keys()) == ["engine", f"held@{T0 + 3 * HOUR}"]  # wind's, for demand


def test_a_record_behind_the_released_frontier_is_late_and_says_so() -> None:
    p = _anomaly_processor("event")
    view: StateView[EngineState] = StateView(0)
    _verdict(p, view, T0, WIND, False)
    assert _verdict(p, view, T0 + HOUR, "ALL/SYSTEM_DEMAND", True) == []  # held for wind
    # demand runs more than the grace ahead of wind: released past it, and says so
    out = _verdict(p, view, T0 + MERGE_GRACE_MS + 2 * HOUR, "ALL/SYSTEM_DEMAND", False)
    waited = [o.value.annotations.get("waited", "") for o in out]  # type: ignore[attr-defined]
    assert waited and all("moved on without anomalies ALL/WIND_ACTUAL" in w for w in waited)
    out = _verdict(p, view, T0 + HOUR, WIND, True)  # behind what was released: late
    assert out and all("late" in o.value.annotations for o in out)  # type: ignore[attr-defined]


def test_live_mode_does_not_wait_for_an_idle_series_and_says_so() -> None:
    p = _anomaly_processor("live")
    view: StateView[EngineState] = StateView(0)
    _verdict(p, view, T0, WIND, False)
    _verdict(p, view, T0, "ALL/SYSTEM_DEMAND", False)
    wall = p._clock[0][1]
    p._arrival[(0, "anomalies ALL/WIND_ACTUAL")] = wall - 60_000  # wind idle for a minute
    assert _verdict(p, view, T0 + QUARTER, "ALL/SYSTEM_DEMAND", True) == []  # held for wind
    out = alerts_only(p.punctuate(wall + 1_000, {0: view}))
    notes = [o.value.annotations.get("waited", "") for o in out]  # type: ignore[attr-defined]
    assert notes and all(
        "moved on by the wall clock: anomalies ALL/WIND_ACTUAL idle" in n for n in notes
    )
