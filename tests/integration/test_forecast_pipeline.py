"""Two months of real readings through smart-ml-preprocessor -> smart-ml-forecaster on the
real broker, with a model swapped mid-stream through ``model_updates``.

Checks: one feature vector per reading; stream features equal the batch features of the same
history; one forecast per quarter-hour vector of every forecast series, ordered, with the
model version in force when its vector was read (v1 before the update, v2 after; the series
without a model are labelled seasonal-naive); every trajectory has 96 non-crossing steps.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gridstream.bus.producer import MessageProducer
from gridstream.bus.reader import read_topic
from gridstream.bus.topics import TopicNames
from gridstream.config import Settings
from gridstream.core.features import batch_features, feature_names, to_wide
from gridstream.schemas import features_pb2, forecast_pb2, model_pb2, readings_pb2
from gridstream.services.forecaster.feature_vector import FeatureView, vector_values

pytestmark = pytest.mark.integration
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "eirgrid"
FIELDS = ["SYSTEM_DEMAND", "WIND_ACTUAL", "CO2_INTENSITY"]
DEMAND = "ALL/SYSTEM_DEMAND"
START, SWAP, END = (pd.Timestamp(d, tz="UTC") for d in ("2022-01-01", "2022-02-01", "2022-03-01"))


def real_history() -> pd.DataFrame:
    if not DATA.exists():
        pytest.skip(f"real data not available: {DATA} is missing")
    from gridstream.sources.recorded import list_files, read_frame

    files = list_files(
        DATA,
        regions=["ALL"],
        areas=["demandactual", "windactual", "co2intensity"],
        years=[2021, 2022],
    )
    frame = read_frame(files)
    frame = frame[frame["value"].notna() & frame["field"].isin(FIELDS)]
    frame = frame.drop_duplicates(["ts", "region", "field"], keep="last")
    return frame.sort_values(["ts", "field"]).reset_index(drop=True)


def tiny_models(history: pd.DataFrame, root: Path) -> tuple[str, str]:
    """Two small demand models trained on Oct-Dec 2021: v1 promoted, v2 stored."""
    from gridstream.core.forecasting import TrainConfig
    from gridstream.core.forecasting.backtest import prepare
    from gridstream.core.forecasting.training import train_series
    from gridstream.store.registry import ModelRegistry

    registry = ModelRegistry(root)
    prepared = prepare(history[history["ts"] < START], "ALL", "demand")
    versions = []
    for seed in (1, 2):
        config = TrainConfig(samples=4000, rounds=8, num_threads=1, calibration_days=0, seed=seed)
        outcome = train_series(
            prepared, registry, START - pd.Timedelta(days=60), START, config, validation_days=7
        )
        versions.append(outcome.version)
    registry.promote(DEMAND, versions[0], reason="test")
    return versions[0], versions[1]


def clean(row: Any) -> readings_pb2.CleanReading:
    ts_ms = int(pd.Timestamp(row.ts).value // 1_000_000)
    sid = f"{row.region}/{row.field}"
    return readings_pb2.CleanReading(
        record_id=f"{sid}@{ts_ms}",
        series_id=sid,
        region=row.region,
        field=row.field,
        ts_ms=ts_ms,
        value=float(row.value),
        interval_minutes=15,
        source="replay",
    )


def send(settings: Settings, rows: pd.DataFrame) -> None:
    producer = MessageProducer(settings.kafka("test-feed"))
    for row in rows.itertuples():
        msg = clean(row)
        producer.send(settings.topics.preprocessed, msg.series_id, msg)
    producer.flush()


def wait_for(
    predicate: Callable[[], bool],
    timeout_s: float,
    what: str,
    progress: Callable[[], object] = lambda: "",
) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {progress()}"
        time.sleep(0.2)


def test_replay_two_months_with_a_model_swap(kafka_bootstrap: str, unique, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from gridstream.services.forecaster.service import LatestForecasts, forecaster_runner
    from gridstream.services.ml_preprocessor.service import ml_preprocessor_runner

    history = real_history()
    v1, v2 = tiny_models(history, tmp_path / "models")
    replay = history[(history["ts"] >= START) & (history["ts"] < END)]
    first, second = replay[replay["ts"] < SWAP], replay[replay["ts"] >= SWAP]
    # the last slot before the swap has all three series, so no vector waits for a peer
    assert set(first[first["ts"] == first["ts"].max()]["field"]) == set(FIELDS)

    settings = Settings(
        bootstrap=kafka_bootstrap,
        topics=TopicNames().with_prefix(unique("fc") + "-"),
        state_dir=tmp_path,
        batch_size=500,
    )
    latest = LatestForecasts()
    runners = [
        ml_preprocessor_runner(settings, group=unique("mlp")),
        forecaster_runner(settings, group=unique("fcst"), latest=latest),
    ]
    threads = [threading.Thread(target=r.run, daemon=True) for r in runners]
    for t in threads:
        t.start()
    forecaster = runners[1].processor
    kafka = settings.kafka("test-reader")

    seen = {"forecasts": 0}

    def forecasts_of(frame: pd.DataFrame) -> bool:
        assert all(t.is_alive() for t in threads), "a runner died"
        seen["forecasts"] = len(read_topic(kafka, settings.topics.forecasts, forecast_pb2.Forecast))
        return seen["forecasts"] >= len(frame)

    try:
        wait_for(lambda: all(r.health.snapshot().ready for r in runners), 90, "runners ready")
        started = time.monotonic()
        send(settings, first)
        wait_for(lambda: forecasts_of(first), 300, "forecasts of January", seen.copy)
        update = model_pb2.ModelUpdate(series_id=DEMAND, model_version=v2, previous_version=v1)
        producer = MessageProducer(settings.kafka("test-updates"))
        producer.send(settings.topics.model_updates, DEMAND, update)
        producer.flush()
        wait_for(
            lambda: forecaster.models.versions().get(DEMAND) == v2,  # type: ignore[attr-defined]
            60,
            "hot reload",
        )
        send(settings, second)
        wait_for(lambda: forecasts_of(replay), 300, "forecasts of February", seen.copy)
        elapsed = time.monotonic() - started
    finally:
        for r in runners:
            r.stop()
        for t in threads:
            t.join(60)

    vectors = [
        r.value for r in read_topic(kafka, settings.topics.ml_ready, features_pb2.FeatureVector)
    ]
    records = read_topic(kafka, settings.topics.forecasts, forecast_pb2.Forecast)
    print(f"{len(replay)} readings -> {len(records)} forecasts in {elapsed:.1f} s")

    # one vector per reading, every forecast issued once, in order, by the right model
    assert sorted((v.series_id, v.ts_ms) for v in vectors) == sorted(
        (f"ALL/{r.field}", int(pd.Timestamp(r.ts).value // 1_000_000)) for r in replay.itertuples()
    )
    swap_ms = int(SWAP.value // 1_000_000)
    for field in FIELDS:
        sid = f"ALL/{field}"
        mine = sorted((r.partition, r.offset, r.value) for r in records if r.key == sid)
        issued = [f.issue_time_ms for _, _, f in mine]
        expected = sorted(v.ts_ms for v in vectors if v.series_id == sid)
        assert issued == expected, f"{sid}: forecasts missing, duplicated or out of order"
        for _, _, f in mine:
            assert f.forecast_id == f"{sid}@{f.issue_time_ms}" and len(f.steps) == 96
            p = np.array([[s.p10, s.p50, s.p90] for s in f.steps])
            assert np.isfinite(p).all() and (np.diff(p, axis=1) >= 0).all()
            assert [s.target_time_ms - f.issue_time_ms for s in f.steps] == [
                900_000 * k for k in range(1, 97)
            ]
            if field == "SYSTEM_DEMAND":
                want = v1 if f.issue_time_ms < swap_ms else v2
                assert (f.model_version, f.model_kind) == (want, "lightgbm-quantile")
            else:
                assert (f.model_version, f.model_kind) == ("seasonal-naive", "seasonal-naive")
    assert latest.get(DEMAND) is not None and latest.get(DEMAND).model_version == v2  # type: ignore[union-attr]

    # the stream computed the same features as the batch pipeline over the same history
    wide = to_wide(replay, "ALL", FIELDS)
    batch = batch_features(wide, "SYSTEM_DEMAND")
    stream = {v.ts_ms: v for v in vectors if v.series_id == DEMAND}
    index_ms = wide.index.as_unit("ms").asi8
    compared = 0
    for row, ts_ms in zip(batch.itertuples(index=False), index_ms, strict=True):
        if int(ts_ms) not in stream:
            continue
        packed = vector_values(stream[int(ts_ms)])
        assert packed is not None and not len(stream[int(ts_ms)].features)  # sent packed
        got = FeatureView(packed)
        for name, want in zip(feature_names(), row, strict=True):
            if math.isnan(want):
                assert name not in got, f"{name} at {ts_ms}: stream has a value, batch NaN"
            else:
                assert got[name] == pytest.approx(want, rel=1e-9, abs=1e-9), (name, ts_ms)
        compared += 1
    assert compared == len(stream) > 5000
