"""The anomaly detector service's processor and keyed state, without Kafka."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gridstream.bus.anomaly_records import from_anomaly, parse_flags, to_anomaly
from gridstream.bus.processor import InRecord
from gridstream.bus.state import StateView
from gridstream.bus.topics import TopicNames
from gridstream.errors import ValidationError
from gridstream.schemas import anomaly_pb2, common_pb2, features_pb2, forecast_pb2
from gridstream.services.anomaly_detector.join import SeriesJoin, join_key
from gridstream.services.anomaly_detector.series import (
    SeriesSlot,
    slot_from_bytes,
    slot_to_bytes,
)
from gridstream.services.anomaly_detector.service import (
    AnomalyDetectorProcessor,
    RecentAnomalies,
    anomalies_router,
)

State = SeriesSlot | SeriesJoin
DEMAND = "ALL/SYSTEM_DEMAND"
Q = 900_000
T0 = 1_600_000_000_000 - 1_600_000_000_000 % Q
TOPICS = TopicNames()


def _fv(i: int, value: float, flags: list[str] | None = None) -> InRecord:
    msg = features_pb2.FeatureVector(
        series_id=DEMAND,
        region="ALL",
        field="SYSTEM_DEMAND",
        ts_ms=T0 + i * Q,
        value=value,
        flags=flags or [],
    )
    return InRecord(TOPICS.ml_ready, 0, i, DEMAND, msg, 0)


def _forecast(issue_i: int, steps: dict[int, tuple[float, float, float]]) -> InRecord:
    issue = T0 + issue_i * Q
    msg = forecast_pb2.Forecast(
        series_id=DEMAND,
        issue_time_ms=issue,
        steps=[
            forecast_pb2.ForecastStep(
                target_time_ms=T0 + k * Q, horizon_minutes=(k - issue_i) * 15, p10=a, p50=b, p90=c
            )
            for k, (a, b, c) in steps.items()
        ],
    )
    return InRecord(TOPICS.forecasts, 0, 0, DEMAND, msg, 0)


def _verdict(proc: AnomalyDetectorProcessor, state: StateView[State], rec: InRecord):  # type: ignore[no-untyped-def]
    (out,) = list(proc.process(rec, state))
    assert out.topic == TOPICS.anomalies and out.key == DEMAND
    assert isinstance(out.value, anomaly_pb2.Anomaly)
    return out.value


def _joined() -> AnomalyDetectorProcessor:
    return AnomalyDetectorProcessor(TOPICS, forecast_fields={"SYSTEM_DEMAND"})


def test_reading_is_scored_against_the_forecast_of_origin_t_minus_h() -> None:
    proc, state = _joined(), StateView[State](0)
    for i in range(40):  # each forecast of origin i carries a flat step for i + 4
        proc.process(_forecast(i - 4, {i: (3000.0, 4000.0, 5000.0)}), state)
        _verdict(proc, state, _fv(i, 4000.0 + 10 * (i % 4)))
    # a closer step for 40 (origin 39) does not replace the one of origin 36
    assert list(proc.process(_forecast(36, {40: (4700.0, 4800.0, 4900.0)}), state)) == []
    assert list(proc.process(_forecast(39, {40: (2900.0, 3000.0, 3100.0)}), state)) == []
    miss = _verdict(proc, state, _fv(40, 2962.0))
    assert miss.is_anomaly
    kinds = {e.kind: e.detail for e in miss.evidence}
    assert kinds["forecast_residual"] == "demand 1,738 MW below P10 of the 1 h forecast"
    # forecast of origin 37 never came, and the series' forecasts are past it: missing
    after = _verdict(proc, state, _fv(41, 4010.0))
    kinds = {e.kind: e.detail for e in after.evidence}
    assert "forecast_residual" not in kinds and "never came" in kinds["forecast_missing"]


def test_only_the_awaited_step_is_remembered_and_bad_steps_rejected() -> None:
    proc, state = _joined(), StateView[State](0)
    day = {k: (4700.0, 4800.0, 4900.0) for k in range(1, 97)}  # a whole day, issued at 0
    assert list(proc.process(_forecast(0, day), state)) == []
    join = state.get(join_key(DEMAND))
    assert isinstance(join, SeriesJoin)
    assert sorted(join.points) == [T0 + 4 * Q] and join.watermark == T0
    bad = {**day, 50: (4700.0, float("nan"), 4900.0)}  # even an unused step is checked
    with pytest.raises(ValidationError, match="not finite"):
        list(proc.process(_forecast(1, bad), state))
    assert join.watermark == T0  # untouched


def test_stuck_run_counts_from_the_cleaners_limit_and_uses_carried_details() -> None:
    proc, state = AnomalyDetectorProcessor(TOPICS), StateView[State](0)
    for i in range(30):
        _verdict(proc, state, _fv(i, 4000.0 + i))
    first = _verdict(proc, state, _fv(30, 4708.0, ["QUALITY_FLAG_STUCK"]))
    assert first.label == "stuck" and first.explanation == "demand stuck at 4,708 MW for 1.25 h"
    second = _verdict(proc, state, _fv(31, 4708.0, ["STUCK"]))
    assert second.explanation.endswith("for 1.5 h")
    carried = _verdict(proc, state, _fv(32, 4708.0, ["stuck", "stuck_intervals=16"]))
    assert carried.explanation.endswith("for 4 h")
    clean = _verdict(proc, state, _fv(33, 4000.0))
    assert clean.label != "stuck"
    gap = _verdict(proc, state, _fv(45, 4000.0, ["QUALITY_FLAG_GAP_BEFORE"]))
    assert gap.label == "gap" and "2.75 h of readings missing" in gap.explanation


def test_late_reading_is_reported_not_scored_and_state_round_trips() -> None:
    proc, state = AnomalyDetectorProcessor(TOPICS), StateView[State](0)
    for i in range(50):
        _verdict(proc, state, _fv(i, 4000.0 + 25 * (i % 7)))
    slot = state.get(DEMAND)
    assert isinstance(slot, SeriesSlot)
    copy = slot_from_bytes(slot_to_bytes(slot))
    assert copy.last_ts_ms == slot.last_ts_ms
    late = _verdict(proc, state, _fv(10, 9000.0))
    assert not late.is_anomaly and "late reading" in late.explanation
    restored: StateView[State] = StateView(0)
    restored.load(DEMAND, copy)
    for i in (50, 51, 52):
        a = _verdict(proc, state, _fv(i, 5200.0))
        b = _verdict(proc, restored, _fv(i, 5200.0))
        assert a.score == b.score and a.explanation == b.explanation


def test_flags_and_records_convert_both_ways() -> None:
    flags = parse_flags(["QUALITY_FLAG_GAP_BEFORE", "gap_before_ms=1800000", "junk=x"], {})
    assert flags.gap and not flags.stuck and flags.gap_before_ms == 1_800_000
    from_features = parse_flags(["STUCK"], {"stuck_intervals": 9.0})
    assert from_features.stuck and from_features.stuck_intervals == 9
    proc, state = AnomalyDetectorProcessor(TOPICS), StateView[State](0)
    msg = _verdict(proc, state, _fv(0, 4000.0, ["STUCK", "stuck_intervals=8"]))
    back = from_anomaly(msg)
    assert to_anomaly(back, "ALL", "SYSTEM_DEMAND") == msg


def test_get_anomalies_filters_and_limits() -> None:
    recent = RecentAnomalies(per_series=5)
    proc, state = (
        AnomalyDetectorProcessor(TOPICS, recent=recent),
        StateView[State](0),
    )
    for i in range(8):
        _verdict(proc, state, _fv(i, 4000.0, ["STUCK", "stuck_intervals=8"] if i >= 6 else []))
    app = FastAPI()
    app.include_router(anomalies_router(recent))
    client = TestClient(app)
    everything = client.get("/anomalies", params={"all": True}).json()
    assert len(everything) == 5 and everything[0]["ts_ms"] == T0 + 7 * Q  # newest first
    only = client.get("/anomalies", params={"series": "ALL/*"}).json()
    assert [a["label"] for a in only] == ["stuck", "stuck"]
    assert client.get("/anomalies", params={"series": "NI/*"}).json() == []
    assert client.get("/anomalies", params={"limit": 0}).status_code == 422


def test_the_kept_scorer_encoding_is_never_stale() -> None:
    """A slot's write reuses the scorer's encoding until the scorer learns: every write must
    equal a fresh encoding, through readings, forecasts and a restore."""
    proc, state = AnomalyDetectorProcessor(TOPICS), StateView[State](0)

    def check() -> None:
        slot = state.get(DEMAND)
        assert isinstance(slot, SeriesSlot)
        kept = slot_to_bytes(slot)
        slot.scorer._encoded = None
        assert kept == slot_to_bytes(slot)

    for i in range(40):
        _verdict(proc, state, _fv(i, 4000.0 + 25 * (i % 7)))
        check()
        proc.process(_forecast(i, {i + 4: (3900.0, 4000.0, 4100.0)}), state)
        check()
    slot = state.get(DEMAND)
    assert isinstance(slot, SeriesSlot)
    copy = slot_from_bytes(slot_to_bytes(slot))
    assert copy.scorer._encoded is not None  # the restored scorer keeps what it read
    state.load(DEMAND, copy)
    _verdict(proc, state, _fv(40, 4100.0))
    check()


def test_a_spike_that_falls_back_is_critical_and_a_level_shift_is_not() -> None:
    proc, state = AnomalyDetectorProcessor(TOPICS), StateView[State](0)
    for i in range(40):
        _verdict(proc, state, _fv(i, 4400.0 + 10 * (i % 4)))
    up = _verdict(proc, state, _fv(40, 5450.0, ["QUALITY_FLAG_SPIKE"]))
    assert "fell back" not in up.explanation
    # a restart between the spike and its fall: the open spike is part of the state
    slot = state.get(DEMAND)
    assert isinstance(slot, SeriesSlot)
    state.put(DEMAND, slot_from_bytes(slot_to_bytes(slot)))
    _verdict(proc, state, _fv(41, 5550.0))
    back = _verdict(proc, state, _fv(42, 4450.0))
    assert back.label == "spike" and back.severity == common_pb2.SEVERITY_CRITICAL
    assert back.explanation == "demand jumped 1,020 MW and fell back after 30 min"
    # the same step that stays (a level shift) is never called a spike
    for i in range(43, 80):
        _verdict(proc, state, _fv(i, 4400.0 + 10 * (i % 4)))
    _verdict(proc, state, _fv(80, 5450.0, ["QUALITY_FLAG_SPIKE"]))
    later = [_verdict(proc, state, _fv(i, 5450.0 + 10 * (i % 4))) for i in range(81, 90)]
    assert not any("fell back" in v.explanation for v in later)
    # nor does a return more than an hour later close it
    late = _verdict(proc, state, _fv(90, 4400.0))
    assert "fell back" not in late.explanation
