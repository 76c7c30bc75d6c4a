"""The decision end of the pipeline on a real broker: forecast_output -> smart-storage-optimizer
-> storage_schedule -> smart-grid-rebalancer -> rebalance_actions."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from gridstream.bus.admin import Admin
from gridstream.bus.producer import MessageProducer
from gridstream.bus.reader import read_topic
from gridstream.bus.topics import TopicNames, topic_specs
from gridstream.config import Settings
from gridstream.schemas import rebalance_pb2
from gridstream.schemas.anomaly_pb2 import Anomaly
from gridstream.schemas.rebalance_pb2 import RebalanceAction
from gridstream.schemas.storage_pb2 import StorageSchedule
from gridstream.services.grid_rebalancer import service as grid_rebalancer
from gridstream.services.storage_optimizer import service as storage_optimizer

from .test_storage_optimizer import T0, forecast, forecast_set, send

pytestmark = pytest.mark.integration


def test_forecasts_become_schedules_become_storage_actions(
    kafka_bootstrap: str, unique: Callable[[str], str], tmp_path: Path
) -> None:
    settings = Settings(
        bootstrap=kafka_bootstrap,
        topics=TopicNames().with_prefix(unique("pipe") + "-"),
        state_dir=tmp_path,
        topic_partitions=2,
    )
    Admin(settings.kafka("test-admin")).ensure_topics(topic_specs(settings.topics, 2, 1))
    optimizer = storage_optimizer.build(
        settings, storage_optimizer.StorageSettings(objective="co2"), unique("opt")
    )
    rebalancer = grid_rebalancer.build(
        settings,
        grid_rebalancer.RebalancerSettings(alert_fields=""),  # no alert engine here
        unique("rebal"),
    )
    threads = [threading.Thread(target=p.worker.run, daemon=True) for p in (optimizer, rebalancer)]
    for t in threads:
        t.start()
    try:
        hours = np.arange(96) / 4
        forecasts = forecast_set(T0, 250 + 120 * np.sin(hours / 24 * 2 * np.pi))
        # as the forecaster does: the all-island SNSP forecast (%) beside the planned series
        send(settings, [*forecasts, forecast("SNSP_ALL", T0, np.full(96, 20.0), 2.0)])
        # ... and the anomaly detector's verdict on the demand reading of the origin
        producer = MessageProducer(settings.kafka("test-detector"))
        producer.send(
            settings.topics.anomalies,
            "ALL/SYSTEM_DEMAND",
            Anomaly(
                record_id=f"ALL/SYSTEM_DEMAND@{T0}",
                series_id="ALL/SYSTEM_DEMAND",
                region="ALL",
                field="SYSTEM_DEMAND",
                ts_ms=T0,
                value=3300.0,
                label="normal",
            ),
        )
        producer.flush()
        deadline = time.monotonic() + 90
        actions: list[RebalanceAction] = []
        while not actions and time.monotonic() < deadline:
            time.sleep(1.0)
            actions = [
                r.value
                for r in read_topic(
                    settings.kafka("test-reader"), settings.topics.rebalance, RebalanceAction
                )
            ]
        [schedule] = read_topic(
            settings.kafka("test-reader"), settings.topics.storage, StorageSchedule
        )
        first = schedule.value.steps[0]
        net = first.discharge_mw - first.charge_mw
        assert abs(net) > 1.0, "the test's CO2 shape should make the first step act"
        storage = [
            a
            for a in actions
            if a.kind
            in (
                rebalance_pb2.ACTION_KIND_STORAGE_CHARGE,
                rebalance_pb2.ACTION_KIND_STORAGE_DISCHARGE,
            )
        ]
        assert len(storage) == 1, actions
        action = storage[0]
        assert action.evidence == [schedule.value.schedule_id]
        assert action.magnitude_mw == pytest.approx(abs(net), abs=0.1)
        expected = (
            rebalance_pb2.ACTION_KIND_STORAGE_DISCHARGE
            if net > 0
            else rebalance_pb2.ACTION_KIND_STORAGE_CHARGE
        )
        assert action.kind == expected
        assert action.approval == rebalance_pb2.APPROVAL_STATE_PROPOSED
        assert action.effective_from_ms == first.ts_ms
        assert action.created_at_ms == T0 and "[" not in action.reason  # nothing was missing
    finally:
        for p in (optimizer, rebalancer):
            p.worker.stop()
        for t in threads:
            t.join(30)
