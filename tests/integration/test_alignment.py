"""Event-time alignment on a real broker: a backlog spread over partitions is read in step.

Two partitions each hold ten days of readings, written one partition after the other in
transactions (so each ends in a commit marker, as every GridStream topic does). Fetched as
the broker answers, one partition is read whole before the other; aligned, neither runs more
than the drift ahead, whatever the batch size, and every record is still read exactly once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from confluent_kafka import Producer
from google.protobuf.message import Message

from gridstream.bus.alignment import ts_of
from gridstream.bus.processor import InRecord, OutRecord, Processor
from gridstream.bus.runner import Runner, RunnerConfig
from gridstream.bus.serde import encode
from gridstream.bus.settings import KafkaSettings
from gridstream.schemas.readings_pb2 import RawReading

pytestmark = pytest.mark.integration
SLOT_MS = 900_000
DAYS = 10
PER_PARTITION = DAYS * 96
DRIFT_MS = 6 * 3_600_000
BATCH = 20


class StepRecorder(Processor[int]):
    """Notes the partition and event time of every record it is given, in order."""

    batch_linger_s = 0.0

    def __init__(self, source: str, drift_ms: int | None) -> None:
        self.source = source
        self.align_drift_ms = drift_ms
        self.seen: list[tuple[int, int]] = []
        self.lock = threading.Lock()

    def inputs(self) -> Mapping[str, type[Message]]:
        return {self.source: RawReading}

    def event_times(self) -> Mapping[str, Any]:
        return {self.source: ts_of}

    def process(self, record: InRecord, state: Any) -> Iterable[OutRecord]:
        assert isinstance(record.value, RawReading)
        with self.lock:
            self.seen.append((record.partition, record.value.ts_ms))
        return []


def write_backlog(kafka: KafkaSettings, topic: str) -> None:
    producer = Producer(
        {"bootstrap.servers": kafka.bootstrap, "transactional.id": f"{topic}-writer"}
    )
    producer.init_transactions(30)
    for part in (0, 1):
        for start in range(0, PER_PARTITION, 100):
            producer.begin_transaction()
            for i in range(start, min(start + 100, PER_PARTITION)):
                sid = f"P{part}/FIELD"
                reading = RawReading(record_id=f"{sid}@{i}", series_id=sid, ts_ms=i * SLOT_MS)
                value, headers = encode(reading)
                producer.produce(topic, value, sid, partition=part, headers=headers)
            producer.commit_transaction(30)


def read_all(
    kafka: KafkaSettings,
    topic: str,
    dlq: str,
    drift_ms: int | None,
    group: str,
    batch: int = BATCH,
) -> StepRecorder:
    recorder = StepRecorder(topic, drift_ms)
    config = RunnerConfig(service="aligned", group=group, dead_letter_topic=dlq, batch_size=batch)
    runner: Runner[int] = Runner(kafka, config, recorder)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    try:
        while len(recorder.seen) < 2 * PER_PARTITION and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        runner.stop()
        thread.join(30)
    return recorder


def widest_skew(seen: list[tuple[int, int]]) -> int:
    """How far, in data time, one partition was read ahead of the other at worst."""
    newest: dict[int, int] = {}
    skew = 0
    for part, ts in seen:
        newest[part] = max(ts, newest.get(part, ts))
        if len(newest) == 2:
            skew = max(skew, max(newest.values()) - min(newest.values()))
    return skew


def test_an_aligned_runner_reads_a_skewed_backlog_in_step(
    kafka_settings, topic_factory, unique
) -> None:  # type: ignore[no-untyped-def]
    topic, dlq = topic_factory("aligned", partitions=2), topic_factory("dlq", partitions=1)
    write_backlog(kafka_settings, topic)

    as_fetched = read_all(kafka_settings, topic, dlq, None, unique("g"))
    aligned = read_all(kafka_settings, topic, dlq, DRIFT_MS, unique("g"))
    # batches larger than a partition: the first could hold one partition's ten days whole
    wide = read_all(kafka_settings, topic, dlq, DRIFT_MS, unique("g"), batch=5 * PER_PARTITION)

    for recorder in (as_fetched, aligned, wide):  # pausing loses and repeats nothing
        assert sorted(recorder.seen) == sorted(
            (p, i * SLOT_MS) for p in (0, 1) for i in range(PER_PARTITION)
        )
    assert widest_skew(as_fetched.seen) > 3 * 86_400_000  # the broker's order: days apart
    # aligned: no record is read more than the drift past where the other partition stands
    assert widest_skew(aligned.seen) <= DRIFT_MS
    assert widest_skew(wide.seen) <= DRIFT_MS
