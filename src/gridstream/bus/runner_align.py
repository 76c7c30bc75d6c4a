"""The runner's event-time alignment over Kafka: which input partitions it reads in step, and
pausing and resuming them (the bookkeeping is :class:`~gridstream.bus.alignment.Alignment`)."""

from __future__ import annotations

import logging
import time
from typing import Any, TypeVar, cast

from confluent_kafka import KafkaException, TopicPartition
from prometheus_client import CollectorRegistry

from gridstream.bus.alignment import Alignment, Partition
from gridstream.bus.processor import Processor
from gridstream.bus.runner_config import RunnerConfig
from gridstream.bus.runner_faults import RunnerFaults
from gridstream.bus.serde import decode
from gridstream.bus.settings import KafkaSettings
from gridstream.errors import SerdeError, ValidationError

log = logging.getLogger("gridstream.bus.runner")
T = TypeVar("T")


class RunnerAlignment(RunnerFaults[T]):
    """Reads the partitions of the processor's timed inputs in step (see ``event_times``)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        config: RunnerConfig,
        processor: Processor[T],
        registry: CollectorRegistry | None = None,
    ) -> None:
        super().__init__(kafka, config, processor, registry)
        drift = processor.align_drift_ms
        self._timed = dict(processor.event_times()) if drift else {}
        self._alignment = Alignment(drift, config.align_idle_s) if drift else None
        self._batch_times: dict[Partition, int] = {}
        self._start_offsets: dict[Partition, int] = {}  # committed offset at assignment
        self._waiting_now: set[Partition] = set()  # as of the last plan
        self._limits: dict[Partition, int] = {}  # this batch's (see Alignment.limits)
        self._cut: dict[Partition, tuple[int, int]] = {}  # first record held back: offset, ts

    # ---- the clients' life, extended -------------------------------------------------------
    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        super()._on_assign(consumer, partitions)
        if self._alignment is None:
            return
        timed = [tp for tp in partitions if tp.topic in self._timed]
        if not timed:
            return
        try:  # where each starts reading, so that a partition with records waiting is known
            committed = consumer.committed(
                [TopicPartition(tp.topic, tp.partition) for tp in timed], timeout=10
            )
        except KafkaException as exc:
            log.warning("%s: committed offsets for alignment: %s", self.config.service, exc)
            committed = []
        for tp in committed:
            start = tp.offset
            if start < 0:  # nothing committed: it starts at the earliest offset
                try:
                    start, _ = consumer.get_watermark_offsets(tp, timeout=5, cached=False)
                except KafkaException:
                    continue
            self._start_offsets[(tp.topic, tp.partition)] = start
        self._alignment.assigned([(tp.topic, tp.partition) for tp in timed], time.monotonic())

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        super()._on_revoke(consumer, partitions)
        if self._alignment is not None:
            gone = [(tp.topic, tp.partition) for tp in partitions]
            self._alignment.revoked(gone)
            for key in gone:
                self._start_offsets.pop(key, None)

    def _rebuild_clients(self, reason: str) -> None:
        if self._alignment is not None:  # new clients: every partition is assigned again
            self._alignment.clear()
            self._start_offsets.clear()
        super()._rebuild_clients(reason)

    # ---- the loop's part -------------------------------------------------------------------
    def _batch_limits(self, records: list[Any]) -> None:
        """This batch's limits per timed partition, from the first record of each in it."""
        self._cut = {}
        alignment = self._alignment
        if alignment is None or not records:
            self._limits = {}
            return
        firsts: dict[Partition, int] = {}
        for msg in records:
            topic = msg.topic()
            key = (topic, msg.partition())
            extract = self._timed.get(topic)
            if extract is None or key in firsts:
                continue
            headers = cast("list[tuple[str, bytes | None]] | None", msg.headers())
            try:
                firsts[key] = extract(decode(msg.value(), headers, self._inputs[topic]))
            except (SerdeError, ValidationError, UnicodeDecodeError):
                continue  # a dead letter: the next record of the partition starts it
        self._limits = alignment.limits(firsts, self._waiting_now, time.monotonic())

    def _held_in_batch(self, topic: str, partition: int) -> bool:
        """Whether the partition was cut at an earlier record of this batch."""
        return (topic, partition) in self._cut

    def _time_record(self, topic: str, partition: int, offset: int, value: Any) -> bool:
        """Note a decoded record's event time (it counts once its batch commits); False if
        it is past its partition's limit: it and the rest of the partition wait."""
        extract = self._timed.get(topic)
        if extract is None:
            return True
        ts = extract(value)
        key = (topic, partition)
        limit = self._limits.get(key)
        if limit is not None and ts > limit:
            self._cut[key] = (offset, ts)
            return False
        if ts > self._batch_times.get(key, -(2**62)):
            self._batch_times[key] = ts
        return True

    def _commit_times(self, committed: bool) -> None:
        """After a batch: its event times count, and the partitions cut in it are paused and
        put back at their first unread record (a failed batch is rewound whole instead)."""
        alignment = self._alignment
        if alignment is not None and committed:
            now = time.monotonic()
            for tp, ts in self._batch_times.items():
                alignment.observe(tp, ts, now)
            self._put_back(alignment)
        self._batch_times = {}
        self._cut = {}

    def _put_back(self, alignment: Alignment) -> None:
        consumer = self._consumer
        for (topic, part), (offset, ts) in self._cut.items():
            tp = TopicPartition(topic, part, offset)
            try:
                if alignment.hold((topic, part), ts):
                    consumer.pause([TopicPartition(topic, part)])
                    self.metrics.alignment_pauses.labels(self.config.service, topic).inc()
                consumer.seek(tp)
            except KafkaException as exc:  # revoked meanwhile: the next owner reads it
                log.debug("%s: putting back %s[%d]: %s", self.config.service, topic, part, exc)

    def _held_back(self, records: list[Any]) -> list[Any]:
        """The records to process now: those of a paused partition that were already on their
        way when it was paused are put back (a seek to the first), to be read on resume."""
        alignment = self._alignment
        if alignment is None or not records:
            return records
        paused = set(alignment.paused())
        if not paused:
            return records
        kept: list[Any] = []
        firsts: dict[Partition, int] = {}
        for msg in records:
            key = (msg.topic(), msg.partition())
            if key in paused:
                firsts.setdefault(key, msg.offset())
            else:
                kept.append(msg)
        for (topic, part), offset in firsts.items():
            try:
                self._consumer.seek(TopicPartition(topic, part, offset))
            except KafkaException as exc:  # not assigned any more: nothing to put back
                log.debug("%s: putting back %s[%d]: %s", self.config.service, topic, part, exc)
        return kept

    def _align(self) -> None:
        """Pause the timed partitions that run too far ahead, resume those that do not."""
        alignment, consumer = self._alignment, self._consumer
        if alignment is None or consumer is None:
            return
        self._waiting_now = self._waiting()
        plan = alignment.plan(self._waiting_now, time.monotonic())
        try:
            if plan.pause:
                consumer.pause([TopicPartition(t, p) for t, p in plan.pause])
            if plan.resume:
                consumer.resume([TopicPartition(t, p) for t, p in plan.resume])
        except KafkaException as exc:  # e.g. revoked meanwhile: the next plan starts over
            log.warning("%s: pausing for alignment: %s", self.config.service, exc)
        if plan.pause or plan.resume:
            service = self.config.service
            for topic, _ in plan.pause:
                self.metrics.alignment_pauses.labels(service, topic).inc()
            self.metrics.alignment_paused.labels(service).set(len(alignment.paused()))
            log.debug(
                "%s alignment: paused %s, resumed %s",
                self.config.service,
                plan.pause,
                plan.resume,
            )

    def _waiting(self) -> set[Partition]:
        """Timed partitions with records left to read: behind the last fetched high mark by
        more than the one offset of a commit marker (a single record left may go unseen)."""
        consumer = self._consumer
        assigned = [tp for tp in consumer.assignment() if tp.topic in self._timed]
        if not assigned:
            return set()
        try:
            positions = consumer.position(assigned)
        except KafkaException:
            return set()
        waiting: set[Partition] = set()
        for tp in positions:
            key = (tp.topic, tp.partition)
            offset = tp.offset if tp.offset >= 0 else self._start_offsets.get(key, -1)
            if offset < 0:  # librdkafka's negative offsets: not known (yet)
                continue
            try:
                _, high = consumer.get_watermark_offsets(tp, cached=True)
            except KafkaException:
                continue
            # a transaction's commit marker ends a partition: one offset past the last record
            if high >= 0 and offset < high - 1:
                waiting.add(key)
        return waiting
