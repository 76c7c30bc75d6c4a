"""smart-model-trainer on the real broker with real readings: it decides in event time, one
``model_updates`` record per daily checkpoint ("no model yet", then a bootstrap version
derived from its data, then keep or retrain); ``POST /train`` needs the control token and
retrains at the next checkpoint; a restart publishes nothing again."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from gridstream.bus.producer import MessageProducer
from gridstream.bus.reader import read_topic
from gridstream.bus.topics import TopicNames
from gridstream.config import Settings
from gridstream.schemas import model_pb2, readings_pb2

pytestmark = pytest.mark.integration
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "eirgrid"
TOKEN = "trainer-test-token-1234"
DAY_MS = 86_400_000
MAY_1 = int(pd.Timestamp("2022-05-01", tz="UTC").value // 1_000_000)
SID = "ALL/SYSTEM_DEMAND"


def days_of_readings(first: str, last: str) -> pd.DataFrame:
    if not DATA.exists():
        pytest.skip(f"real data not available: {DATA} is missing")
    from gridstream.sources.recorded import list_files, read_frame

    files = list_files(
        DATA, regions=["ALL"], areas=["demandactual", "windactual", "co2intensity"], years=[2022]
    )
    frame = read_frame(files)
    keep = (
        (frame["ts"] >= pd.Timestamp(first, tz="UTC"))
        & (frame["ts"] < pd.Timestamp(last, tz="UTC"))
        & frame["value"].notna()
    )
    return frame[keep].drop_duplicates(["ts", "region", "field"]).reset_index(drop=True)


def send(settings: Settings, readings: pd.DataFrame) -> None:
    producer = MessageProducer(settings.kafka("test-feed"))
    for row in readings.itertuples():
        ts_ms = int(pd.Timestamp(row.ts).value // 1_000_000)
        sid = f"{row.region}/{row.field}"
        msg = readings_pb2.CleanReading(
            record_id=f"{sid}@{ts_ms}",
            series_id=sid,
            region=row.region,
            field=row.field,
            ts_ms=ts_ms,
            value=float(row.value),
        )
        producer.send(settings.topics.preprocessed, sid, msg)
    producer.flush()


def wait_updates(settings: Settings, count: int, alive: threading.Thread) -> list[Any]:
    deadline = time.monotonic() + 240
    while True:
        updates = [
            r.value
            for r in read_topic(
                settings.kafka("test-reader"), settings.topics.model_updates, model_pb2.ModelUpdate
            )
        ]
        if len(updates) >= count:
            return updates
        assert alive.is_alive(), "the trainer died"
        assert time.monotonic() < deadline, f"{len(updates)} of {count} model updates"
        time.sleep(1)


def test_decisions_per_checkpoint_manual_request_and_restart(  # type: ignore[no-untyped-def]
    kafka_bootstrap: str, unique, tmp_path
) -> None:
    from gridstream.core.forecasting.design import model_feature_names
    from gridstream.http.app import create_app
    from gridstream.services.trainer.jobs import TrainerSettings
    from gridstream.services.trainer.service import trainer_parts
    from gridstream.store.history import HistoryStore
    from gridstream.store.registry import ModelRegistry

    readings = days_of_readings("2022-05-01", "2022-05-11")
    settings = Settings(
        bootstrap=kafka_bootstrap,
        topics=TopicNames().with_prefix(unique("tr") + "-"),
        state_dir=tmp_path,
        control_token=TOKEN,
    )
    config = TrainerSettings(
        regions="ALL",
        series="demand",
        bootstrap_samples=3000,
        bootstrap_rounds=5,
        samples=3000,
        rounds=5,
        threads=1,
    )
    group = unique("trainer")
    parts, _processor = trainer_parts(settings, config, group=group)
    worker = threading.Thread(target=parts.worker.run, daemon=True)
    worker.start()
    client = TestClient(create_app(parts.name, parts.health, parts.registry, parts.routers))
    try:
        deadline = time.monotonic() + 180
        while not parts.health().ready:
            assert time.monotonic() < deadline, f"trainer not ready: {parts.health()}"
            time.sleep(0.5)
        send(settings, readings)
        # checkpoints 2 May .. 10 May (11 May: its data is not complete yet)
        updates = wait_updates(settings, 9, worker)
        assert [u.train_until_ms for u in updates] == [MAY_1 + d * DAY_MS for d in range(1, 10)]
        assert all(u.series_id == SID for u in updates)
        reasons = [u.reason for u in updates]
        first = reasons.index("bootstrap")  # six days of data are needed
        assert first == 6 and all(r == "no-model" for r in reasons[:first])
        assert all(u.model_version == "" for u in updates[:first])
        update = updates[first]
        registry = ModelRegistry(tmp_path / "models")
        assert update.previous_version == ""
        assert update.model_version.startswith("20220508T0000Z-")  # its data end, a hash
        meta = registry.metadata(SID, update.model_version)
        assert update.data_hash == meta.data_hash and len(update.data_hash) == 64
        assert list(update.feature_names) == model_feature_names()
        assert update.train_from_ms < update.train_until_ms
        assert "validation_pinball" in update.metrics
        assert Path(update.uri.removeprefix("file://"), "p50.txt").is_file()
        assert all(u.model_version for u in updates[first:])

        assert client.post("/train").status_code == 401
        bad = client.post("/train", headers={"Authorization": "Bearer wrong-token-123456"})
        assert bad.status_code == 403
        auth = {"Authorization": f"Bearer {TOKEN}"}
        unknown = client.post("/train", json={"series": ["ALL/NOT_A_SERIES"]}, headers=auth)
        assert unknown.status_code == 400
        ok = client.post("/train", json={"series": [SID]}, headers=auth)
        assert ok.status_code == 202 and ok.json() == {"accepted": [SID]}
        deadline = time.monotonic() + 60
        while client.get("/train/status").json()["requested"]:
            assert time.monotonic() < deadline, "the request was not taken"
            time.sleep(0.5)
        send(settings, days_of_readings("2022-05-11", "2022-05-12"))
        updates = wait_updates(settings, 10, worker)
        assert updates[9].train_until_ms == MAY_1 + 10 * DAY_MS
        assert updates[9].reason.startswith("manual")
    finally:
        parts.worker.stop()
        worker.join(60)

    # a restart on the same state: nothing is decided or published again
    versions = sorted(p.name for p in (tmp_path / "models").glob("*/versions/*"))
    parts, _processor = trainer_parts(settings, config, group=group)
    worker = threading.Thread(target=parts.worker.run, daemon=True)
    worker.start()
    try:
        deadline = time.monotonic() + 180
        while not parts.health().ready:
            assert time.monotonic() < deadline, f"trainer not ready: {parts.health()}"
            time.sleep(0.5)
        time.sleep(10)
        assert len(wait_updates(settings, 10, worker)) == 10
        assert sorted(p.name for p in (tmp_path / "models").glob("*/versions/*")) == versions
    finally:
        parts.worker.stop()
        worker.join(60)
    with HistoryStore(tmp_path / "history" / "history.duckdb") as store:
        assert store.count() == len(readings) + len(days_of_readings("2022-05-11", "2022-05-12"))
