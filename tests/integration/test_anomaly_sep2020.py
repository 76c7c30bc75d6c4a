"""The Sep 2020 stuck-feed night on a REAL broker: ml_ready_data + forecast_output ->
smart-anomaly-detector -> anomaly_output -> smart-alert-engine -> alert_output.

On 9-10 Sep 2020 (~21:15-02:45 Irish time) the all-island demand, generation and wind feeds
froze, then dropped by about 1,738 MW when they came back. The replay uses the recorded
readings, the quality flags the real cleaner sets on them, and seasonal-naive forecast
trajectories (P50 = the same slot a week earlier, P10/P90 from the spread of weekly changes
over the previous fortnight), issued hourly during the night.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridstream.bus.producer import MessageProducer
from gridstream.bus.reader import count_until_quiet, read_topic
from gridstream.bus.topics import TopicNames
from gridstream.config import Settings
from gridstream.core.cleaning.cleaner import Cleaner
from gridstream.core.cleaning.state import SeriesState
from gridstream.schemas import alert_pb2, anomaly_pb2, common_pb2, features_pb2, forecast_pb2
from gridstream.services.alert_engine.receivers import ReceiverHub
from gridstream.services.alert_engine.rules import RulesHolder
from gridstream.services.alert_engine.service import SERVICE as ALERTS
from gridstream.services.alert_engine.service import AlertEngineProcessor
from gridstream.services.anomaly_detector.service import SERVICE as DETECTOR
from gridstream.services.anomaly_detector.service import AnomalyDetectorProcessor
from gridstream.services.forecaster.service import ForecasterSettings
from gridstream.sources.records import make_raw_reading

from .test_alert_restart import isolated_runner

pytestmark = pytest.mark.integration


DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "eirgrid"
FILES = ("demandactual", "generationactual", "windactual")
START = pd.Timestamp("2020-09-03", tz="UTC")  # a week of history for the detectors
END = pd.Timestamp("2020-09-10 06:00", tz="UTC")
FC_FROM = pd.Timestamp("2020-09-09 12:00", tz="UTC")  # forecasts issued during the night
FC_STEPS = 24  # 15 min .. 6 h ahead
STUCK_FROM = pd.Timestamp("2020-09-09 20:15", tz="UTC")  # 21:15 Irish summer time
STUCK_TO = pd.Timestamp("2020-09-10 01:45", tz="UTC")


def _ms(ts: pd.Timestamp) -> int:
    return int(ts.value // 1_000_000)


def load_readings() -> pd.DataFrame:
    from gridstream.sources.recorded import read_frame

    paths = [DATA / "smartgriddashboard" / "ALL" / f"ALL_{a}_20_Eirgrid.csv.gz" for a in FILES]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        pytest.skip(f"real data not available: {missing[0]} is missing (../shared/data)")
    frame = read_frame(paths)
    return frame[(frame["ts"] >= START - pd.Timedelta(days=21)) & (frame["ts"] < END)]


def feature_vectors(frame: pd.DataFrame) -> list[features_pb2.FeatureVector]:
    """One FeatureVector per reading from START, flags as the real cleaner sets them."""
    cleaner = Cleaner()
    states: dict[str, SeriesState] = {}
    out: list[features_pb2.FeatureVector] = []
    for ts, region, field, value in frame.itertuples(index=False):
        raw = make_raw_reading(
            region=region, field=field, ts_ms=_ms(ts), value=float(value), source="replay"
        )
        for clean in cleaner.process(raw, states.setdefault(raw.series_id, SeriesState())):
            if ts < START:
                continue
            out.append(
                features_pb2.FeatureVector(
                    series_id=clean.series_id,
                    region=clean.region,
                    field=clean.field,
                    ts_ms=clean.ts_ms,
                    value=clean.value,
                    feature_set="replay",
                    flags=[common_pb2.QualityFlag.Name(f) for f in clean.flags],
                )
            )
    return out


def forecasts(frame: pd.DataFrame) -> list[forecast_pb2.Forecast]:
    """Quarter-hourly seasonal-naive trajectories issued from FC_FROM (only data up to issue
    time), one per reading like the forecaster's: the detector joins the reading at t with
    the forecast of origin t - 1 h."""
    out: list[forecast_pb2.Forecast] = []
    week = pd.Timedelta(days=7)
    for (region, field), group in frame.groupby(["region", "field"]):
        series = group.set_index("ts")["value"].asfreq("15min")
        weekly = series - series.shift(freq=week).reindex(series.index)
        for issue in pd.date_range(FC_FROM, END - pd.Timedelta(hours=1), freq="15min"):
            spread = weekly[issue - pd.Timedelta(days=14) : issue].dropna()
            lo, hi = np.quantile(spread, [0.1, 0.9])
            steps = []
            for k in range(1, FC_STEPS + 1):
                target = issue + pd.Timedelta(minutes=15 * k)
                base = series.get(target - week)
                if base is None or not np.isfinite(base):
                    continue
                steps.append(
                    forecast_pb2.ForecastStep(
                        target_time_ms=_ms(target),
                        horizon_minutes=15 * k,
                        p10=base + lo,
                        p50=base,
                        p90=base + hi,
                    )
                )
            sid = f"{region}/{field}"
            out.append(
                forecast_pb2.Forecast(
                    forecast_id=f"{sid}@{_ms(issue)}",
                    series_id=sid,
                    region=region,
                    field=field,
                    issue_time_ms=_ms(issue),
                    model_version="seasonal-naive-test",
                    model_kind="seasonal-naive",
                    steps=steps,
                    unit="MW",
                )
            )
    return out


def _run(runner) -> threading.Thread:  # type: ignore[no-untyped-def]
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    return thread


def _consumed(runner, service: str, topic: str) -> float:  # type: ignore[no-untyped-def]
    value = runner.registry.get_sample_value(
        "gridstream_records_in_total", {"service": service, "topic": topic}
    )
    return value or 0.0


@pytest.fixture(scope="module")
def replay() -> tuple[list[features_pb2.FeatureVector], list[forecast_pb2.Forecast]]:
    frame = load_readings()
    return feature_vectors(frame), forecasts(frame)


@pytest.fixture
def settings(kafka_bootstrap: str, unique, tmp_path: Path) -> Iterator[Settings]:  # type: ignore[no-untyped-def]
    yield Settings(
        bootstrap=kafka_bootstrap,
        topics=TopicNames().with_prefix(unique("sep2020") + "-"),
        state_dir=tmp_path,
    )


def test_stuck_feed_night_from_features_to_alerts(settings: Settings, replay, unique) -> None:  # type: ignore[no-untyped-def]
    from .test_alert_webhooks import Endpoint

    vectors, trajectories = replay
    kafka = settings.kafka("test")
    topics = settings.topics
    hook = Endpoint([200])
    hub = ReceiverHub.from_urls([hook.url])
    detector = isolated_runner(
        settings,
        DETECTOR,
        AnomalyDetectorProcessor(topics, forecast_fields=ForecasterSettings().field_set()),
        unique("detector"),
    )
    alerts = isolated_runner(
        settings,
        ALERTS,
        AlertEngineProcessor(topics, RulesHolder(), hub, consume_readings=False),
        unique("alerts"),
    )
    hub.start()
    threads = [_run(detector), _run(alerts)]
    try:
        producer = MessageProducer(kafka)
        for fc in trajectories:  # the night's forecasts first, so every reading finds its own
            producer.send(topics.forecasts, fc.series_id, fc)
        producer.flush()
        deadline = time.monotonic() + 60
        while _consumed(detector, DETECTOR, topics.forecasts) < len(trajectories):
            assert time.monotonic() < deadline, "the detector did not consume the forecasts"
            time.sleep(0.2)
        for fv in vectors:
            producer.send(topics.ml_ready, fv.series_id, fv)
        producer.flush()
        n = count_until_quiet(
            kafka, topics.anomalies, quiet_s=2, timeout_s=120, expect_at_least=len(vectors)
        )
        assert n == len(vectors)
        count_until_quiet(kafka, topics.alerts, quiet_s=4, timeout_s=60, expect_at_least=1)
        deadline = time.monotonic() + 10  # webhooks are delivered in the background
        while time.monotonic() < deadline and not any(
            body["status"] == "resolved" for _, _, body in hook.requests
        ):
            time.sleep(0.1)
    finally:
        for runner in (detector, alerts):
            runner.stop()
        for thread in threads:
            thread.join(60)
        hub.stop()
        hook.close()

    # --- anomaly_output: one verdict per reading; the frozen hours are "stuck" ------------
    verdicts = [r.value for r in read_topic(kafka, topics.anomalies, anomaly_pb2.Anomaly)]
    assert len({v.record_id for v in verdicts}) == len(vectors)
    by_key = {(v.series_id, v.ts_ms): v for v in verdicts}
    first_flag = STUCK_FROM + pd.Timedelta(minutes=60)  # the 5th identical reading: an hour held
    for sid in ("ALL/SYSTEM_DEMAND", "ALL/GEN_EXP", "ALL/WIND_ACTUAL"):
        night = [by_key[(sid, _ms(t))] for t in pd.date_range(first_flag, STUCK_TO, freq="15min")]
        assert all(v.is_anomaly and v.label == "stuck" for v in night), sid
        assert all(v.severity == common_pb2.SEVERITY_CRITICAL for v in night), sid
    first = by_key[("ALL/SYSTEM_DEMAND", _ms(first_flag))]
    assert first.explanation == "demand stuck at 4,708 MW for 1.25 h"
    assert {e.kind for e in first.evidence} == {
        "streaming_detector",
        "forecast_residual",
        "data_quality",
    }

    # --- alert_output: FeedStuck per series, notified, later resolved; anomalies inhibited -
    records = read_topic(kafka, topics.alerts, alert_pb2.Alert)
    notified = [r for r in records if r.headers.get("gs-alert-event") == "notification"]
    stuck_notes = {
        (r.value.labels["series"], r.value.state) for r in notified if r.value.name == "FeedStuck"
    }
    for sid in ("ALL/SYSTEM_DEMAND", "ALL/GEN_EXP", "ALL/WIND_ACTUAL"):
        assert (sid, alert_pb2.ALERT_STATE_FIRING) in stuck_notes, sid
        assert (sid, alert_pb2.ALERT_STATE_RESOLVED) in stuck_notes, sid
    stuck_alert = next(
        r.value
        for r in records
        if r.value.name == "FeedStuck" and r.value.labels["series"] == "ALL/SYSTEM_DEMAND"
    )
    assert _ms(first_flag) == stuck_alert.starts_at_ms
    # while a feed is stuck, its anomaly and forecast-miss alerts are inhibited, not notified
    window = range(_ms(first_flag), _ms(STUCK_TO) + 1)
    leaked = [
        r.value.name
        for r in notified
        if r.value.name in ("AnomalyCritical", "ForecastMiss") and r.value.starts_at_ms in window
    ]
    assert leaked == []
    inhibited = [
        r.value for r in records if r.value.name == "AnomalyCritical" and r.value.state == 2
    ]
    assert inhibited and all(a.annotations.get("inhibited") == "true" for a in inhibited)
    # de-duplication, `for` and grouping: far fewer notifications than anomalous readings
    new = Counter(
        (r.value.name, r.value.labels.get("series"))
        for r in notified
        if r.headers.get("gs-alert-reason") == "new"
    )
    anomalous = sum(1 for v in verdicts if v.is_anomaly)
    assert 5 * sum(new.values()) <= anomalous, (new, anomalous)
    # the webhook saw the same FeedStuck notifications as the topic
    hooked = {
        (a["name"], a["labels"]["series"], a["state"])  # type: ignore[index]
        for _, _, body in hook.requests
        for a in body["alerts"]  # type: ignore[attr-defined]
    }
    assert ("FeedStuck", "ALL/SYSTEM_DEMAND", "firing") in hooked
    assert ("FeedStuck", "ALL/SYSTEM_DEMAND", "resolved") in hooked
