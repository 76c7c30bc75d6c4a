"""smart-model-trainer on the real broker with real readings: the history store fills from
``preprocessed_data``, a bootstrap model is trained and its promotion published on
``model_updates``; ``POST /train`` needs the control token and runs a manual training."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

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


def ten_days() -> pd.DataFrame:
    if not DATA.exists():
        pytest.skip(f"real data not available: {DATA} is missing")
    from gridstream.sources.recorded import list_files, read_frame

    files = list_files(
        DATA, regions=["ALL"], areas=["demandactual", "windactual", "co2intensity"], years=[2022]
    )
    frame = read_frame(files)
    keep = (
        (frame["ts"] >= pd.Timestamp("2022-05-01", tz="UTC"))
        & (frame["ts"] < pd.Timestamp("2022-05-11", tz="UTC"))
        & frame["value"].notna()
    )
    return frame[keep].drop_duplicates(["ts", "region", "field"]).reset_index(drop=True)


def test_bootstrap_publishes_a_model_update_and_train_needs_the_token(  # type: ignore[no-untyped-def]
    kafka_bootstrap: str, unique, tmp_path
) -> None:
    from gridstream.core.forecasting.design import model_feature_names
    from gridstream.http.app import create_app
    from gridstream.services.trainer.jobs import TrainerSettings
    from gridstream.services.trainer.service import trainer_parts
    from gridstream.store.history import HistoryStore
    from gridstream.store.registry import ModelRegistry

    readings = ten_days()
    settings = Settings(
        bootstrap=kafka_bootstrap,
        topics=TopicNames().with_prefix(unique("tr") + "-"),
        state_dir=tmp_path,
        control_token=TOKEN,
    )
    config = TrainerSettings(
        regions="ALL",
        series="demand",
        check_interval_s=1.0,
        bootstrap_samples=3000,
        bootstrap_rounds=5,
        samples=3000,
        rounds=5,
        threads=1,
    )
    parts, _processor, scheduler = trainer_parts(settings, config, group=unique("trainer"))

    kafka = settings.kafka("test-reader")
    worker = threading.Thread(target=parts.worker.run, daemon=True)
    worker.start()
    client = TestClient(create_app(parts.name, parts.health, parts.registry, parts.routers))
    try:
        deadline = time.monotonic() + 180
        while not parts.health().ready:
            assert time.monotonic() < deadline, f"trainer not ready: {parts.health()}"
            time.sleep(0.5)
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

        deadline = time.monotonic() + 180
        updates: list[model_pb2.ModelUpdate] = []
        while not updates:
            assert worker.is_alive(), "the trainer died"
            assert time.monotonic() < deadline, f"no model update; status {scheduler.status()}"
            time.sleep(1)
            updates = [
                r.value
                for r in read_topic(kafka, settings.topics.model_updates, model_pb2.ModelUpdate)
            ]
        update = updates[0]
        registry = ModelRegistry(tmp_path / "models")
        assert update.series_id == "ALL/SYSTEM_DEMAND"
        assert update.reason == "bootstrap" and update.previous_version == ""
        assert update.model_version == registry.current("ALL/SYSTEM_DEMAND")
        meta = registry.metadata(update.series_id, update.model_version)
        assert update.data_hash == meta.data_hash and len(update.data_hash) == 64
        assert list(update.feature_names) == model_feature_names()
        assert (
            update.train_from_ms
            < update.train_until_ms
            <= int(readings["ts"].max().value // 1_000_000) + 900_000
        )
        assert "validation_pinball" in update.metrics
        assert Path(update.uri.removeprefix("file://"), "p50.txt").is_file()

        assert client.post("/train").status_code == 401
        bad = client.post("/train", headers={"Authorization": "Bearer wrong-token-123456"})
        assert bad.status_code == 403
        unknown = client.post(
            "/train",
            json={"series": ["ALL/NOT_A_SERIES"]},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert unknown.status_code == 400
        ok = client.post(
            "/train",
            json={"series": ["ALL/SYSTEM_DEMAND"]},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert ok.status_code == 202 and ok.json() == {"accepted": ["ALL/SYSTEM_DEMAND"]}
        deadline = time.monotonic() + 90
        while not any(r["reason"] == "manual" for r in scheduler.status()["recent_runs"]):
            assert time.monotonic() < deadline, f"no manual run: {scheduler.status()}"
            time.sleep(0.5)
        manual = [r for r in client.get("/train/status").json()["recent_runs"]][-1]
        assert manual["reason"] == "manual" and manual["result"] in ("promoted", "kept incumbent")
    finally:
        parts.worker.stop()
        worker.join(60)
    with HistoryStore(tmp_path / "history" / "history.duckdb") as store:
        assert store.count() == len(readings)
