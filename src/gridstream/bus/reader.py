"""Reading whole topics (tests, tools, the dashboard's history) with read_committed."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from google.protobuf.message import Message

from gridstream.bus.client_logs import client_logger
from gridstream.bus.serde import TYPE_HEADER, decode, header_value
from gridstream.bus.settings import KafkaSettings

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class ReadRecord(Generic[M]):
    partition: int
    offset: int
    key: str | None
    value: M
    headers: dict[str, str]
    timestamp_ms: int


def _consumer(kafka: KafkaSettings, committed_only: bool, fetch_wait_ms: int = 20) -> Any:
    """A group-less reader. ``fetch_wait_ms``: an empty partition's end is only known from a
    fetch answer, which the broker holds back for up to this long waiting for data (500 ms by
    default: reading a small topic to its end took 0.6 s instead of 0.12 s)."""
    conf: dict[str, Any] = dict(kafka.client_config())
    conf.update(
        {
            "group.id": f"gridstream-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed" if committed_only else "read_uncommitted",
            "enable.partition.eof": True,
            "fetch.wait.max.ms": fetch_wait_ms,
            "logger": client_logger(),
        }
    )
    return Consumer(conf)


def _assign_all(consumer: Any, topic: str) -> list[int]:
    """Assign every partition of ``topic`` from offset 0; [] when the topic does not exist."""
    md = consumer.list_topics(topic, timeout=10)
    if topic not in md.topics or md.topics[topic].error is not None:
        return []
    parts = sorted(md.topics[topic].partitions)
    consumer.assign([TopicPartition(topic, p, 0) for p in parts])
    return parts


MARKER_GRACE_S = 2.0
"""How long a read waits for a partition's end to pass the high watermark seen at its start.
A read_committed consumer's end is the last stable offset: right after a commit returns, the
coordinator may still be writing the commit markers, and a read that stopped there missed
the records just committed. A transaction that stays open (a killed producer's, until the
broker aborts it) must not hold the read for long, hence only a grace period."""


#: errors of a partition whose leader is still being elected (a topic created a moment ago,
#: a broker restarting): asked again shortly, they pass
_ELECTING = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
}


def watermark_offsets(
    consumer: Consumer, topic: str, partition: int, deadline: float, timeout: float = 10.0
) -> tuple[int, int]:
    """The partition's low and high watermarks, asking again while its leader is being
    elected (a topic created a moment ago, a broker that just restarted) until ``deadline``
    (``time.monotonic()``); any other error, or an election past the deadline, is raised."""
    while True:
        try:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=timeout
            )
            return int(low), int(high)
        except KafkaException as exc:
            if exc.args[0].code() not in _ELECTING or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _high_watermark(consumer: Consumer, topic: str, partition: int, deadline: float) -> int:
    """The partition's high watermark (see :func:`watermark_offsets`)."""
    return watermark_offsets(consumer, topic, partition, deadline)[1]


def _to_end(
    kafka: KafkaSettings, topic: str, committed_only: bool, timeout_s: float, doing: str
) -> Iterator[Any]:
    """Every data record now in ``topic``, partition by partition to its end (EOF events
    consumed here); TimeoutError if the ends are not reached within ``timeout_s``.
    A partition whose end lies below the high watermark at the start (see
    ``MARKER_GRACE_S``) is read until it gets there or the grace period is over."""
    consumer = _consumer(kafka, committed_only)
    try:
        parts = _assign_all(consumer, topic)
        started = time.monotonic()
        deadline = started + timeout_s
        ends = {p: _high_watermark(consumer, topic, p, deadline) for p in parts}
        done: set[int] = set()
        at_end: set[int] = set()
        while len(done) < len(parts):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{doing} {topic} did not reach the end in {timeout_s}s")
            # a short wait: consume() waits out its whole timeout unless the batch fills,
            # and a small topic would otherwise cost that timeout on every pass
            for msg in consumer.consume(10000, 0.05):
                err = msg.error()
                if err is None:
                    yield msg
                elif err.code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition())
                    if msg.offset() >= ends[msg.partition()]:
                        done.add(msg.partition())
                else:
                    raise KafkaException(err)
            if time.monotonic() - started >= MARKER_GRACE_S:
                done |= at_end
    finally:
        consumer.close()


def read_topic(
    kafka: KafkaSettings,
    topic: str,
    message_type: type[M],
    committed_only: bool = True,
    timeout_s: float = 30.0,
) -> list[ReadRecord[M]]:
    """Every record now in ``topic`` (to the end of each partition), decoded as
    ``message_type``; records of another type raise. Stops at the partition ends."""
    out: list[ReadRecord[M]] = []
    for msg in _to_end(kafka, topic, committed_only, timeout_s, "reading"):
        headers = {k: (v or b"").decode(errors="replace") for k, v in (msg.headers() or [])}
        value = decode(msg.value(), msg.headers(), message_type)
        _, ts = msg.timestamp()
        key = msg.key().decode() if msg.key() is not None else None
        out.append(ReadRecord(msg.partition(), msg.offset(), key, value, headers, ts))
    return out


def count_committed(kafka: KafkaSettings, topic: str, timeout_s: float = 300.0) -> int:
    """Committed data records now in ``topic``, read to the end of every partition (unlike
    :class:`CommittedCounter`, which counts what arrives within a time budget)."""
    return sum(1 for _ in _to_end(kafka, topic, True, timeout_s, "counting"))


class CommittedCounter:
    """Counts committed data records of a topic incrementally (markers excluded)."""

    def __init__(self, kafka: KafkaSettings, topic: str) -> None:
        self.topic = topic
        self.count = 0
        self._consumer = _consumer(kafka, True, fetch_wait_ms=500)  # long-lived: fetch less
        md = self._consumer.list_topics(topic, timeout=10)
        parts = sorted(md.topics[topic].partitions) if topic in md.topics else []
        self._consumer.assign([TopicPartition(topic, p, 0) for p in parts])

    def poll(self, max_seconds: float = 1.0) -> int:
        """Read what is available (up to ``max_seconds``); return the running count."""
        deadline = time.monotonic() + max_seconds
        while time.monotonic() < deadline:
            batch = self._consumer.consume(10000, 0.2)
            if not batch:
                break
            self.count += sum(1 for m in batch if m.error() is None)
        return self.count

    def close(self) -> None:
        self._consumer.close()


def count_until_quiet(
    kafka: KafkaSettings,
    topic: str,
    quiet_s: float = 3.0,
    timeout_s: float = 300.0,
    expect_at_least: int = 0,
) -> int:
    """Committed record count of ``topic`` once it has stopped growing for ``quiet_s``."""
    counter = CommittedCounter(kafka, topic)
    try:
        deadline = time.monotonic() + timeout_s
        last = -1
        stable_since = time.monotonic()
        while time.monotonic() < deadline:
            total = counter.poll()
            if total != last:
                last, stable_since = total, time.monotonic()
            elif total >= expect_at_least and time.monotonic() - stable_since >= quiet_s:
                return total
            time.sleep(0.2)
        return last
    finally:
        counter.close()


def message_type_of(headers: dict[str, str]) -> str | None:
    return header_value([(k, v.encode()) for k, v in headers.items()], TYPE_HEADER)
