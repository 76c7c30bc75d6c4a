"""Bad input on every input topic of the downstream services, on a real broker.

Each service's processor runs in-process with ``make_runner``; poison goes in on each of its
input topics; every poison record lands in ``dead_letter`` with its reason, the runner stays
alive, and the counts reconcile. What reconciles, per service:

* smart-anomaly-detector: 1:1 on ``ml_ready_data`` (anomalies = feature vectors consumed -
  their dead letters; duplicates and out-of-order vectors come out as "late", not scored);
  ``forecast_output`` records produce nothing themselves (absorbed as pending forecast steps),
  so forecasts consumed = accepted + dead letters.
* smart-alert-engine: alerts follow state changes, not records, so what reconciles is
  records consumed = records accepted + dead letters, per input topic; poison must not move
  the engine's event clock.
* smart-storage-optimizer: ``forecast_output`` -> its by-region topic is 1:1 for the series
  and regions it plans (the others are ignored by design), so forecasts consumed =
  repartitioned + ignored + dead letters.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from gridstream.bus.reader import read_topic
from gridstream.core.alerts.engine import AlertEngine
from gridstream.schemas import alert_pb2, anomaly_pb2, forecast_pb2
from gridstream.services.alert_engine.receivers import ReceiverHub
from gridstream.services.alert_engine.rules import RulesHolder
from gridstream.services.alert_engine.service import ENGINE_KEY, AlertEngineProcessor
from gridstream.services.anomaly_detector.service import AnomalyDetectorProcessor
from gridstream.services.base import make_runner

from .bad_input_support import (
    FUTURE,
    INF,
    NAN,
    SID,
    T0,
    Case,
    Q,
    Running,
    check_dead_letters,
    dead_letters,
    inject,
    message_case,
    reading_fields,
    run_fed,
    series_case,
    wire_cases,
)
from .bad_input_support import clean_reading as clean
from .bad_input_support import feature_vector as fv
from .ingest_support import ms, pipeline_settings

pytestmark = pytest.mark.integration


def _per_topic(cases: list[Case], per_case: Counter[str]) -> Counter[str]:
    topics: Counter[str] = Counter()
    for case in cases:
        topics[case.topic] += per_case[case.label]
    return topics


# ---- smart-anomaly-detector -----------------------------------------------------------------
def forecast(issue_ms: int, p50: float, **extra: Any) -> forecast_pb2.Forecast:
    steps = [
        forecast_pb2.ForecastStep(
            target_time_ms=issue_ms + h * Q,
            horizon_minutes=15 * h,
            p10=p50 - 100,
            p50=p50,
            p90=p50 + 100,
        )
        for h in range(1, 9)
    ]
    fields: dict[str, Any] = {
        "forecast_id": f"{SID}@{issue_ms}",
        "series_id": SID,
        "region": "ALL",
        "field": "SYSTEM_DEMAND",
        "issue_time_ms": issue_ms,
        "model_version": "m1",
        "steps": steps,
        "unit": "MW",
    }
    fields.update(extra)
    return forecast_pb2.Forecast(**fields)


def test_anomaly_detector_bad_input(kafka_bootstrap, unique, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = pipeline_settings(kafka_bootstrap, unique("badano"), tmp_path)
    ml, fc = settings.topics.ml_ready, settings.topics.forecasts

    nan_fc = forecast(T0, 4000.0)
    nan_fc.steps[3].p50 = NAN
    cases = [
        series_case("fc-ok", fc, forecast(T0 - 4 * Q, 4000.0), "ok"),
        *wire_cases(fc, SID, forecast(T0, 4000.0)),
        series_case("fc-nan", fc, nan_fc, "dead", "finite"),
        message_case(
            "fc-no-series", fc, "", forecast(T0, 4000.0, series_id=""), "dead", "series id"
        ),
        *[series_case(f"fv-{i}", ml, fv(T0 + i * Q, 4000.0 + 10 * i), "ok") for i in range(6)],
        *wire_cases(ml, SID, fv(T0 + 6 * Q, 4000.0)),
        series_case("fv-nan", ml, fv(T0 + 6 * Q, NAN), "dead", "bad reading"),
        series_case("fv-inf", ml, fv(T0 + 6 * Q, INF), "dead", "bad reading"),
        series_case("fv-zero-ts", ml, fv(0, 4000.0), "dead", "bad reading"),
        series_case("fv-far-future", ml, fv(FUTURE, 4000.0), "dead", "bad reading"),
        series_case("fv-far-past", ml, fv(86_400_000, 4000.0), "dead", "bad reading"),
        message_case("fv-no-series", ml, "", fv(T0, 1.0, series_id=""), "dead", "series id"),
        series_case("fv-out-of-range", ml, fv(T0 + 6 * Q, 1e12), "ok"),
        series_case("fv-duplicate", ml, fv(T0 + 6 * Q, 1e12), "ok"),
        series_case("fv-out-of-order", ml, fv(T0 + 2 * Q, 4020.0), "ok"),
        series_case("fv-after", ml, fv(T0 + 7 * Q, 4070.0), "ok"),
    ]
    from gridstream.services.anomaly_detector.service import SERVICE

    processor = AnomalyDetectorProcessor(settings.topics)
    running = run_fed(
        make_runner(settings, SERVICE, processor, group=unique("group")), settings.kafka(), cases
    )
    try:
        slot = next(v.get(SID) for v in running.runner._states.values() if v.get(SID))
    finally:
        running.stop()
    kafka = settings.kafka()
    per_case = check_dead_letters(cases, dead_letters(kafka, settings.topics.dead_letter), SERVICE)
    anomalies = read_topic(kafka, settings.topics.anomalies, anomaly_pb2.Anomaly)
    ml_in = sum(1 for case in cases if case.topic == ml)
    assert len(anomalies) == ml_in - _per_topic(cases, per_case)[ml]
    assert running.consumed() == len(cases)
    by_ts: dict[int, list[anomaly_pb2.Anomaly]] = {}
    for record in anomalies:
        by_ts.setdefault(record.value.ts_ms, []).append(record.value)
    assert sorted(by_ts) == [T0 + i * Q for i in range(8)]
    late = [
        a for a in by_ts[T0 + 2 * Q] + by_ts[T0 + 6 * Q] if a.explanation.startswith("late reading")
    ]
    assert len(late) == 2, "the duplicate and the out-of-order vector are reported as late"
    assert slot is not None and slot.last_ts_ms == T0 + 7 * Q, "poison moved the series' clock"


# ---- smart-alert-engine ---------------------------------------------------------------------
def anomaly(ts_ms: int, value: float, **extra: Any) -> anomaly_pb2.Anomaly:
    fields = reading_fields(ts_ms, value) | {
        "score": 0.1,
        "label": "normal",
        "explanation": "normal",
        "detector_version": "t",
    }
    return anomaly_pb2.Anomaly(**(fields | extra))


def event(ts_ms: int, kind: str = "feed_gap") -> alert_pb2.SystemEvent:
    return alert_pb2.SystemEvent(
        event_id=f"{kind}@{ts_ms}",
        service="smart-preprocessor",
        kind=kind,
        ts_ms=ts_ms,
        message="test",
        labels={"series_id": SID},
    )


def test_alert_engine_bad_input(kafka_bootstrap, unique, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from gridstream.services.alert_engine.service import SERVICE

    settings = pipeline_settings(kafka_bootstrap, unique("badalert"), tmp_path)
    topics = settings.topics
    an, ev, pre = topics.anomalies, topics.system_events, topics.preprocessed

    cases = [
        series_case("an-ok", an, anomaly(T0, 4000.0), "ok"),
        series_case("pre-ok", pre, clean(T0, 4000.0), "ok"),
        series_case("ev-ok", ev, event(T0), "ok"),
        *wire_cases(an, SID, anomaly(T0 + Q, 4000.0)),
        *wire_cases(ev, SID, event(T0 + Q)),
        *wire_cases(pre, SID, clean(T0 + Q, 4000.0)),
        series_case("an-nan", an, anomaly(T0 + Q, NAN, score=NAN), "any"),
        series_case("an-inf", an, anomaly(T0 + Q, INF), "any"),
        series_case("an-no-series", an, anomaly(T0 + Q, 1.0, series_id=""), "dead", "series id"),
        series_case("an-far-future", an, anomaly(FUTURE, 4000.0), "dead", "time"),
        series_case("pre-far-future", pre, clean(FUTURE, 4000.0), "dead", "time"),
        series_case("ev-far-future", ev, event(FUTURE), "dead", "time"),
        series_case("pre-nan", pre, clean(T0 + Q, NAN), "any"),
        series_case("pre-out-of-range", pre, clean(T0 + Q, 1e12), "any"),
        series_case("ev-no-kind", ev, event(T0 + Q, kind=""), "dead", "kind"),
        series_case("an-duplicate", an, anomaly(T0, 4000.0), "ok"),
        series_case("pre-out-of-order", pre, clean(T0 - 4 * Q, 3900.0), "ok"),
        series_case("an-last", an, anomaly(T0 + 2 * Q, 4010.0), "ok"),
    ]
    hub = ReceiverHub([])
    processor = AlertEngineProcessor(topics, RulesHolder(None), hub, watch_rules=False)
    running = run_fed(
        make_runner(settings, SERVICE, processor, group=unique("group")), settings.kafka(), cases
    )
    try:
        engines = [v.get(ENGINE_KEY) for v in running.runner._states.values()]
        clocks = [e.now_ms for e in engines if isinstance(e, AlertEngine)]
    finally:
        running.stop()
    kafka = settings.kafka()
    per_case = check_dead_letters(cases, dead_letters(kafka, topics.dead_letter), SERVICE)
    assert running.consumed() == len(cases)
    per_topic = _per_topic(cases, per_case)
    for topic in (an, ev, pre):
        sent = sum(1 for case in cases if case.topic == topic)
        accepted = sum(1 for case in cases if case.topic == topic and not per_case[case.label])
        assert sent == accepted + per_topic[topic], topic
    assert clocks and max(clocks) < ms(2100, 1, 1), f"poison moved the engine clock: {clocks}"
    read_topic(kafka, topics.alerts, alert_pb2.Alert)  # whatever was produced decodes


# ---- smart-storage-optimizer ----------------------------------------------------------------
def test_storage_optimizer_bad_input(kafka_bootstrap, unique, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from gridstream.core.storage import load_fleet_config, preset
    from gridstream.services.storage_optimizer.api import ScheduleBoard
    from gridstream.services.storage_optimizer.service import (
        SERVICE,
        StorageOptimizerProcessor,
        repartition_topic,
    )

    settings = pipeline_settings(kafka_bootstrap, unique("badstore"), tmp_path)
    topics = settings.topics
    fc = topics.forecasts
    fleets = load_fleet_config(None)
    by_region = repartition_topic(topics)

    nan_fc = forecast(T0, 4000.0, forecast_id="nan")
    for step in nan_fc.steps:
        step.p50 = NAN
    cases = [
        series_case("ok", fc, forecast(T0, 4000.0), "ok"),
        *wire_cases(fc, SID, forecast(T0 + Q, 4000.0)),
        series_case("nan", fc, nan_fc, "any"),
        series_case("inf", fc, forecast(T0 + Q, INF), "any"),
        series_case("no-region", fc, forecast(T0, 1.0, region="", series_id=""), "dead", "region"),
        series_case("far-future", fc, forecast(FUTURE, 4000.0), "any"),
        series_case("no-steps", fc, forecast(T0 + 2 * Q, 4000.0, steps=[]), "any"),
        series_case("ignored-field", fc, forecast(T0, 50.0, field="SNSP_ALL"), "ok"),
        series_case("ignored-region", fc, forecast(T0, 50.0, region="XX"), "ok"),
        series_case("duplicate", fc, forecast(T0, 4000.0), "ok"),
        series_case("out-of-order", fc, forecast(T0 - 8 * Q, 4000.0), "ok"),
    ]
    board = ScheduleBoard(sorted(fleets.fleets))
    processor = StorageOptimizerProcessor(topics, by_region, fleets, preset("mixed", 0.5), board)
    runner = make_runner(settings, SERVICE, processor, group=unique("group"))
    from dataclasses import replace

    from gridstream.bus.topics import TopicSpec

    runner.config = replace(
        runner.config, ensure_topics=(*runner.config.ensure_topics, TopicSpec(by_region, 3))
    )
    running = Running(runner)
    try:
        inject(settings.kafka(), cases)
        running.wait_consumed(len(cases))
        # every forwarded forecast is consumed again from the by-region topic
        forwarded = len(read_topic(settings.kafka(), by_region, forecast_pb2.Forecast))
        running.wait_consumed(len(cases) + forwarded)
        assert running.thread.is_alive()
    finally:
        running.stop()
    kafka = settings.kafka()
    letters = dead_letters(kafka, topics.dead_letter)
    from_fc = [r for r in letters if r.value.source_topic == fc]
    per_case = check_dead_letters(cases, from_fc, SERVICE)
    ignored = 2
    assert len(cases) == forwarded + ignored + sum(per_case.values())
    assert all(r.value.source_topic in (fc, by_region) for r in letters)
