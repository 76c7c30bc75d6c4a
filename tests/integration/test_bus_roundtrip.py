"""Every message type goes through a real Kafka topic and comes back equal."""

from __future__ import annotations

import pytest
from google.protobuf.message import Message

from gridstream.bus.producer import MessageProducer
from gridstream.bus.reader import read_topic
from gridstream.schemas import (
    alert_pb2,
    anomaly_pb2,
    common_pb2,
    dead_letter_pb2,
    features_pb2,
    forecast_pb2,
    model_pb2,
    readings_pb2,
    rebalance_pb2,
    storage_pb2,
)

pytestmark = pytest.mark.integration


def samples() -> list[Message]:
    fc = forecast_pb2.Forecast(
        forecast_id="ALL/SYSTEM_DEMAND@1",
        series_id="ALL/SYSTEM_DEMAND",
        issue_time_ms=1_640_995_200_000,
        model_version="v3",
    )
    fc.steps.add(target_time_ms=1_640_996_100_000, horizon_minutes=15, p10=3500, p50=3600, p90=3700)
    sched = storage_pb2.StorageSchedule(region="ALL", objective="co2", solver_status="Optimal")
    sched.steps.add(ts_ms=1, charge_mw=50.0, discharge_mw=0.0, soc_mwh=120.5)
    fv = features_pb2.FeatureVector(series_id="NI/WIND_ACTUAL", ts_ms=5)
    fv.features["lag_1d"] = -11.0
    alert = alert_pb2.Alert(fingerprint="abc", name="StuckFeed", state=alert_pb2.ALERT_STATE_FIRING)
    alert.labels["series"] = "ALL/SYSTEM_DEMAND"
    return [
        readings_pb2.RawReading(
            record_id="ROI/INTER_EWIC@1",
            series_id="ROI/INTER_EWIC",
            value=-480.0,
            has_value=True,
            effective_time="27-Mar-2022 02:00:00",
        ),
        readings_pb2.CleanReading(
            series_id="ALL/SYSTEM_DEMAND", value=3921.0, flags=[common_pb2.QUALITY_FLAG_STUCK]
        ),
        fv,
        fc,
        anomaly_pb2.Anomaly(
            series_id="ALL/SYSTEM_DEMAND",
            score=0.97,
            is_anomaly=True,
            explanation="demand 1,738 MW below P10",
        ),
        alert,
        alert_pb2.SystemEvent(service="smart-storage-optimizer", kind="solver_failed"),
        sched,
        rebalance_pb2.RebalanceAction(
            action_id="a1",
            kind=rebalance_pb2.ACTION_KIND_HOLD,
            approval=rebalance_pb2.APPROVAL_STATE_PROPOSED,
        ),
        model_pb2.ModelUpdate(
            series_id="ALL/SYSTEM_DEMAND", model_version="v3", feature_names=["lag_15m"]
        ),
        dead_letter_pb2.DeadLetter(service="s", reason="bad", original_value=b"\x00\xff"),
    ]


@pytest.mark.parametrize("message", samples(), ids=lambda m: m.DESCRIPTOR.name)
def test_round_trip_through_kafka(kafka_settings, topic_factory, message: Message) -> None:  # type: ignore[no-untyped-def]
    topic = topic_factory("rt", partitions=1)
    producer = MessageProducer(kafka_settings, transactional_id=f"{topic}-tx")
    producer.begin()
    producer.send(topic, "key-1", message)
    producer.commit()
    records = read_topic(kafka_settings, topic, type(message))
    assert len(records) == 1
    assert records[0].value == message
    assert records[0].key == "key-1"
    assert records[0].headers["gs-type"] == message.DESCRIPTOR.full_name


def test_aborted_transaction_is_invisible_to_read_committed(kafka_settings, topic_factory) -> None:  # type: ignore[no-untyped-def]
    topic = topic_factory("abort", partitions=1)
    producer = MessageProducer(kafka_settings, transactional_id=f"{topic}-tx")
    producer.begin()
    producer.send(topic, "k", readings_pb2.RawReading(record_id="gone"))
    producer.flush()  # written to the log, then aborted
    producer.abort()
    producer.begin()
    producer.send(topic, "k", readings_pb2.RawReading(record_id="kept"))
    producer.commit()
    committed = read_topic(kafka_settings, topic, readings_pb2.RawReading)
    everything = read_topic(kafka_settings, topic, readings_pb2.RawReading, committed_only=False)
    assert [r.value.record_id for r in committed] == ["kept"]
    assert [r.value.record_id for r in everything] == ["gone", "kept"]
