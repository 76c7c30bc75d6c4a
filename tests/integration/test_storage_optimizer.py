"""smart-storage-optimizer on a real broker: forecasts in, schedules out, SoC carried over,
a failing solve published as a hold with a SystemEvent, and the HTTP views."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from gridstream.bus.producer import MessageProducer
from gridstream.bus.reader import ReadRecord, read_topic
from gridstream.bus.topics import TopicNames
from gridstream.config import Settings
from gridstream.core.storage import limit_violations, load_fleet_config
from gridstream.http.app import create_app
from gridstream.schemas.alert_pb2 import SystemEvent
from gridstream.schemas.forecast_pb2 import Forecast, ForecastStep
from gridstream.schemas.storage_pb2 import StorageSchedule
from gridstream.services.storage_optimizer.messages import schedule_from_proto
from gridstream.services.storage_optimizer.service import StorageSettings, build

pytestmark = pytest.mark.integration
T0 = 1_656_633_600_000  # 2022-07-01 00:00 UTC
STEP = 900_000
HOUR = 3_600_000


def forecast(field: str, issue: int, values: np.ndarray, spread: float = 0.0) -> Forecast:
    msg = Forecast(
        forecast_id=f"ALL/{field}@{issue}",
        series_id=f"ALL/{field}",
        region="ALL",
        field=field,
        issue_time_ms=issue,
        model_version=f"{field.lower()}-v1",
        model_kind="test",
    )
    for k, v in enumerate(values, start=1):
        msg.steps.append(
            ForecastStep(
                target_time_ms=issue + k * STEP,
                horizon_minutes=15 * k,
                p10=float(v - spread),
                p50=float(v),
                p90=float(v + spread),
            )
        )
    return msg


def forecast_set(issue: int, co2: np.ndarray) -> list[Forecast]:
    hours = np.arange(96) / 4
    demand = 4500 + 1200 * np.sin((hours - 6) / 24 * 2 * np.pi)
    wind = np.full(96, 1500.0)
    return [
        forecast("SYSTEM_DEMAND", issue, demand, 150),
        forecast("WIND_ACTUAL", issue, wind, 300),
        forecast("CO2_INTENSITY", issue, co2, 20),
    ]


def send(settings: Settings, messages: list[Forecast]) -> None:
    producer = MessageProducer(settings.kafka("test-forecaster"))
    for m in messages:
        producer.send(settings.topics.forecasts, m.series_id, m)
    producer.flush()


def wait_for(
    settings: Settings, topic: str, kind: type, count: int, timeout: float = 60.0
) -> list[ReadRecord]:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while True:
        records: list[ReadRecord] = read_topic(settings.kafka("test-reader"), topic, kind)  # type: ignore[type-arg]
        if len(records) >= count or time.monotonic() > deadline:
            return records
        time.sleep(0.5)


@pytest.fixture
def service(
    kafka_bootstrap: str, unique: Callable[[str], str], tmp_path: Path
) -> Iterator[tuple[Settings, TestClient]]:
    settings = Settings(
        bootstrap=kafka_bootstrap,
        topics=TopicNames().with_prefix(unique("storage") + "-"),
        state_dir=tmp_path,
        topic_partitions=2,
    )
    parts = build(
        settings, StorageSettings(objective="mixed", robustness=0.5), unique("smart-storage")
    )
    thread = threading.Thread(target=parts.worker.run, daemon=True)
    thread.start()
    client = TestClient(create_app(parts.name, parts.health, parts.registry, parts.routers))
    try:
        yield settings, client
    finally:
        parts.worker.stop()
        thread.join(30)


def test_forecasts_in_schedules_out_with_soc_carried_over_and_hold_on_failure(
    service: tuple[Settings, TestClient],
) -> None:
    settings, client = service
    fleet = load_fleet_config().for_region("ALL")
    hours = np.arange(96) / 4
    co2 = 250 + 120 * np.sin(hours / 24 * 2 * np.pi)  # high in the first half, low later

    assert client.get("/schedule", params={"region": "ALL"}).status_code == 404
    send(settings, forecast_set(T0, co2))
    [first] = wait_for(settings, settings.topics.storage, StorageSchedule, 1)
    s1 = first.value
    assert first.key == "ALL"
    assert s1.solver_status == "Optimal" and not s1.fallback
    assert len(s1.steps) == 96 and s1.steps[0].ts_ms == T0 + STEP
    assert sorted(s1.forecast_ids) == sorted(
        f"ALL/{f}@{T0}" for f in ("SYSTEM_DEMAND", "WIND_ACTUAL", "CO2_INTENSITY")
    )
    assert "co2_intensity-v1" in s1.model_versions
    initial = fleet.initial_soc * fleet.energy_mwh
    r1 = schedule_from_proto(s1, initial)
    assert limit_violations(fleet, r1) == []  # power, SoC bounds, no simultaneous c/d
    assert r1.charge_mw.sum() > 0 and r1.discharge_mw.sum() > 0  # it does arbitrage CO2
    assert s1.objective_value < 0  # better than holding

    # the next forecast set, one hour later, starts from the SoC the first plan reached
    send(settings, forecast_set(T0 + HOUR, np.roll(co2, -4)))
    records = wait_for(settings, settings.topics.storage, StorageSchedule, 2)
    s2 = records[-1].value
    assert s2.issue_time_ms == T0 + HOUR and not s2.fallback
    before = [s for s in s1.steps if s.ts_ms < s2.steps[0].ts_ms]
    assert len(before) == 4
    carried = before[-1].soc_mwh
    assert not math.isclose(carried, initial, abs_tol=1.0)  # the battery did move
    r2 = schedule_from_proto(s2, carried)
    assert limit_violations(fleet, r2) == []  # SoC chain is consistent from the carried SoC

    # a forecast with missing values cannot be planned on: hold + health event, no crash
    broken = forecast_set(T0 + 2 * HOUR, co2)
    broken[2].steps[10].p50 = float("nan")
    send(settings, broken)
    records = wait_for(settings, settings.topics.storage, StorageSchedule, 3)
    s3 = records[-1].value
    assert s3.fallback and s3.issue_time_ms == T0 + 2 * HOUR
    assert "missing" in s3.reason
    assert all(s.charge_mw == 0 and s.discharge_mw == 0 for s in s3.steps)
    held = [s for s in s2.steps if s.ts_ms < s3.steps[0].ts_ms][-1].soc_mwh
    assert all(math.isclose(s.soc_mwh, held) for s in s3.steps)
    [event] = wait_for(settings, settings.topics.system_events, SystemEvent, 1)
    assert event.value.kind == "solver_failed"
    assert event.value.labels["region"] == "ALL"
    assert event.value.labels["schedule_id"] == s3.schedule_id

    # the service is still alive and solves the next good set
    send(settings, forecast_set(T0 + 3 * HOUR, co2))
    records = wait_for(settings, settings.topics.storage, StorageSchedule, 4)
    assert not records[-1].value.fallback

    body = client.get("/schedule", params={"region": "ALL"}).json()
    assert body["schedule_id"] == records[-1].value.schedule_id
    assert len(body["steps"]) == 96
    png = client.get("/schedule.png", params={"region": "ALL"})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    assert client.get("/schedule", params={"region": "MARS"}).status_code == 400
