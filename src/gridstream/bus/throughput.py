"""Raw Kafka measurements for the benchmark: the produce->consume ceiling and group progress.

``measure_ceiling`` produces N equally-sized records from a child process (its own
interpreter, so producer and consumer do not share a GIL) with the same producer settings as
the runner (idempotent, acks=all, lz4, short linger) and consumes them here with
``read_committed``, exactly as a pipeline stage would, but with no processing in between.
``group_lag`` reads the committed offsets of a consumer group without joining it.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
import uuid
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

from gridstream.bus.client_logs import client_logger
from gridstream.bus.reader import watermark_offsets
from gridstream.bus.settings import KafkaSettings
from gridstream.errors import BrokerError

log = logging.getLogger(__name__)

#: producer settings shared by the runner and the ceiling measurement
PRODUCER_TUNING: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 5,
    "compression.type": "lz4",
    "batch.num.messages": 10000,
    "queue.buffering.max.messages": 500000,
}


@dataclass(frozen=True)
class Ceiling:
    messages: int
    message_bytes: int
    seconds: float

    @property
    def msgs_per_s(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


def _consumer(kafka: KafkaSettings, group: str) -> Any:
    conf: dict[str, Any] = dict(kafka.client_config())
    conf.update(
        {
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "logger": client_logger(),
        }
    )
    return Consumer(conf)


def _produce_child(
    kafka: KafkaSettings,
    topic: str,
    keys: list[bytes],
    value: bytes,
    headers: list[tuple[str, str | bytes | None]],
    count: int,
    started: Any,
) -> None:
    conf: dict[str, Any] = dict(kafka.client_config())
    conf.update(PRODUCER_TUNING)
    producer = Producer(conf)
    nkeys = len(keys)
    started.put(time.time())
    for i in range(count):
        while True:
            try:
                producer.produce(topic, value=value, key=keys[i % nkeys], headers=headers)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 1000 == 0:
            producer.poll(0)
    producer.flush(120)


def measure_ceiling(
    kafka: KafkaSettings,
    topic: str,
    count: int,
    value: bytes,
    keys: list[bytes],
    headers: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
    timeout_s: float = 600.0,
) -> Ceiling:
    """Produce ``count`` copies of ``value`` (keys cycled) to ``topic`` from a child process
    while consuming them here; the time from the first produce to the last record consumed."""
    consumer = _consumer(kafka, f"gridstream-ceiling-{uuid.uuid4().hex[:8]}")
    ctx = multiprocessing.get_context("spawn")
    started = ctx.Queue()
    child = ctx.Process(
        target=_produce_child,
        args=(kafka, topic, keys, value, list(headers), count, started),
        daemon=True,
    )
    try:
        md = consumer.list_topics(topic, timeout=10)
        parts = sorted(md.topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        child.start()
        seen = 0
        last = time.time()
        deadline = time.monotonic() + timeout_s
        while seen < count:
            if time.monotonic() > deadline:
                raise BrokerError(f"ceiling: only {seen} of {count} records came back")
            for msg in consumer.consume(10000, 0.05):
                if msg.error() is None:
                    seen += 1
            last = time.time()
        first = float(started.get(timeout=30))
        child.join(60)
        return Ceiling(count, len(value), last - first)
    finally:
        if child.is_alive():
            child.terminate()
        consumer.close()


class GroupWatch:
    """Committed progress of consumer groups, read without joining them (one idle consumer
    per group, kept open so a check costs a few milliseconds)."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.kafka = kafka
        self._consumers: dict[str, Any] = {}

    def _consumer(self, group: str) -> Any:
        if group not in self._consumers:
            self._consumers[group] = _consumer(self.kafka, group)
        return self._consumers[group]

    def lag(
        self,
        group: str,
        inputs: list[str],
        extra: list[str] = (),  # type: ignore[assignment]
    ) -> dict[tuple[str, int], int]:
        """Offsets between ``group``'s commit and the end of each partition of ``inputs``
        (never committed: counted from the start) and of ``extra`` (never committed: skipped).
        A partition whose last transaction the group has consumed shows 1 (the commit marker).
        """
        consumer = self._consumer(group)
        try:
            md = consumer.list_topics(timeout=10)
            required = set(inputs)
            tps = [
                TopicPartition(t, p)
                for t in [*inputs, *extra]
                if t in md.topics
                for p in sorted(md.topics[t].partitions)
            ]
            if not tps:
                return {}
            out: dict[tuple[str, int], int] = {}
            deadline = time.monotonic() + 10
            for tp in consumer.committed(tps, timeout=10):
                if tp.offset < 0 and tp.topic not in required:
                    continue
                low, high = watermark_offsets(consumer, tp.topic, tp.partition, deadline)
                start = tp.offset if tp.offset >= 0 else low
                out[(tp.topic, tp.partition)] = max(0, high - start)
            return out
        except KafkaException as exc:
            raise BrokerError(f"cannot read the offsets of group {group}: {exc}") from exc

    def close(self) -> None:
        for consumer in self._consumers.values():
            consumer.close()
        self._consumers.clear()


def first_timestamp_ms(kafka: KafkaSettings, topic: str, timeout_s: float = 10.0) -> int | None:
    """The earliest record timestamp at the start of ``topic``'s partitions (any isolation)."""
    conf: dict[str, Any] = dict(kafka.client_config())
    conf.update(
        {
            "group.id": f"gridstream-first-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "isolation.level": "read_uncommitted",
            "logger": client_logger(),
        }
    )
    consumer = Consumer(conf)
    try:
        md = consumer.list_topics(topic, timeout=10)
        deadline = time.monotonic() + timeout_s
        parts: list[int] = []
        for p in sorted(md.topics[topic].partitions) if topic in md.topics else []:
            low, high = watermark_offsets(consumer, topic, p, deadline)
            if high > low:
                parts.append(p)
        pending = set(parts)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        first: int | None = None
        deadline = time.monotonic() + timeout_s
        while pending and time.monotonic() < deadline:
            for msg in consumer.consume(100, 0.2):
                if msg.error() is not None or msg.partition() not in pending:
                    continue
                pending.discard(msg.partition())
                ts = msg.timestamp()[1]
                first = ts if first is None else min(first, ts)
        return first
    finally:
        consumer.close()
