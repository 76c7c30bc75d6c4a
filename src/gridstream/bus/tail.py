"""Tailing several topics at once without a consumer group commit (dashboards, tools).

A ``TopicTail`` assigns every partition of the given topics itself (no group rebalance, no
offset commits), starts ``backlog`` records before the end of each partition, reads with
``read_committed`` (aborted transactions never show) and decodes each record as the message
type registered for its topic. Records that do not decode are counted, never raised.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, KafkaException, TopicPartition
from google.protobuf.message import Message

from gridstream.bus.client_logs import client_logger
from gridstream.bus.reader import watermark_offsets
from gridstream.bus.serde import decode
from gridstream.bus.settings import KafkaSettings
from gridstream.errors import BrokerError, SerdeError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TailRecord:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: Message
    timestamp_ms: int


class TopicTail:
    """A non-committing, read_committed reader of the recent end of many topics."""

    def __init__(
        self,
        kafka: KafkaSettings,
        types: Mapping[str, type[Message]],
        backlog: int = 2000,
    ) -> None:
        conf: dict[str, Any] = dict(kafka.client_config())
        conf.update(
            {
                "group.id": f"gridstream-tail-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                # a read_committed fetch is held to this limit even after a commit (500 ms
                # by default), which would dominate the measured latency of every hop
                "fetch.wait.max.ms": 10,
                "logger": client_logger(),
            }
        )
        self._consumer: Any = Consumer(conf)
        self._types = dict(types)
        self._backlog = backlog
        self._assigned: set[tuple[str, int]] = set()
        self.undecodable = 0

    def refresh_assignment(self, timeout: float = 5.0) -> int:
        """Assign partitions of the topics that exist now (new ones are picked up later).

        Returns the number of partitions assigned; raises BrokerError when Kafka does not answer.
        """
        try:
            md = self._consumer.list_topics(timeout=timeout)
        except KafkaException as exc:
            raise BrokerError(f"Kafka did not answer a metadata request: {exc}") from exc
        new: list[TopicPartition] = []
        deadline = time.monotonic() + timeout
        for topic in self._types:
            meta = md.topics.get(topic)
            if meta is None or meta.error is not None:
                continue
            for p in sorted(meta.partitions):
                if (topic, p) in self._assigned:
                    continue
                try:
                    low, high = watermark_offsets(self._consumer, topic, p, deadline, timeout)
                except KafkaException as exc:
                    raise BrokerError(f"cannot read the offsets of {topic}[{p}]: {exc}") from exc
                start = max(low, high - self._backlog) if high >= 0 else OFFSET_END
                new.append(TopicPartition(topic, p, start))
        if new:
            self._consumer.incremental_assign(new)
            self._assigned.update((tp.topic, tp.partition) for tp in new)
            log.info("tailing %d more partitions", len(new))
        return len(self._assigned)

    @property
    def assigned(self) -> int:
        return len(self._assigned)

    def poll(self, max_records: int = 1000, timeout: float = 0.5) -> list[TailRecord]:
        """Decoded records available now (waits up to ``timeout`` for the first)."""
        out: list[TailRecord] = []
        for msg in self._consumer.consume(max_records, timeout):
            if msg.error() is not None:
                if not msg.error().code() < 0:  # negative codes are informational (EOF...)
                    log.warning("tail: %s", msg.error())
                continue
            message_type = self._types.get(msg.topic())
            if message_type is None:
                continue
            try:
                value = decode(msg.value(), msg.headers(), message_type)
            except SerdeError as exc:
                self.undecodable += 1
                log.debug("tail: undecodable record on %s: %s", msg.topic(), exc)
                continue
            key = msg.key().decode(errors="replace") if msg.key() is not None else None
            out.append(
                TailRecord(
                    msg.topic(), msg.partition(), msg.offset(), key, value, msg.timestamp()[1]
                )
            )
        return out

    def close(self) -> None:
        self._consumer.close()
