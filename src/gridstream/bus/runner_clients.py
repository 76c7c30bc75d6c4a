"""The runner's Kafka clients over their life: connecting with retries, partition assignment
with state restore, renewing the producer after a lost session, and rebuilding both clients
after a fault that new clients cure."""

from __future__ import annotations

import logging
import signal
import threading
from collections import OrderedDict
from dataclasses import replace
from typing import Any, Generic, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from prometheus_client import CollectorRegistry

from gridstream.bus.admin import Admin
from gridstream.bus.clients import client_conf, consumer_conf, new_producer
from gridstream.bus.health import RunnerHealth
from gridstream.bus.metrics import RunnerMetrics
from gridstream.bus.processor import Processor
from gridstream.bus.restore import restore_partition
from gridstream.bus.runner_config import RunnerConfig
from gridstream.bus.settings import KafkaSettings
from gridstream.bus.state import StateView, changelog_topic
from gridstream.bus.topics import TopicSpec
from gridstream.errors import BrokerError, KafkaAuthError

log = logging.getLogger("gridstream.bus.runner")
T = TypeVar("T")


class RunnerClients(Generic[T]):
    """The clients and per-partition state of a runner; the loop lives in ``Runner``."""

    def __init__(
        self,
        kafka: KafkaSettings,
        config: RunnerConfig,
        processor: Processor[T],
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.kafka = kafka
        self.config = config
        self.processor = processor
        own = processor.batch_linger_s  # a processor's own linger wins over the setting
        self._linger_s = config.batch_linger_s if own is None else own
        self.registry = registry or CollectorRegistry()
        self.metrics = RunnerMetrics(config.service, self.registry)
        self.health = RunnerHealth()
        self._stop = threading.Event()
        self._inputs = dict(processor.inputs())
        self._states: dict[int, StateView[T]] = {}
        self._changelog = changelog_topic(config.group) if processor.state_codec else None
        self._consumer: Any = None
        self._producer: Any = None
        self._last_punctuate = 0.0
        self._batch_started = 0.0  # monotonic start of the latest batch (see ``_consume``)
        self._producer_stale = False
        self._out_counts: dict[str, int] = {}
        # records a processor crashed on: (topic, partition, offset) -> (reason, error type)
        self._poisoned: OrderedDict[tuple[str, int, int], tuple[str, str]] = OrderedDict()

    def regroup(self, group: str) -> None:
        """Use another consumer group (and with it transactional id and changelog) before
        ``run()``: tools such as the benchmark isolate a service from earlier runs this way."""
        if self._consumer is not None:
            raise RuntimeError("regroup() must be called before run()")
        self.config = replace(self.config, group=group)
        self._changelog = changelog_topic(group) if self.processor.state_codec else None

    def stop(self) -> None:
        self._stop.set()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())

    @property
    def exactly_once(self) -> bool:
        return self.config.guarantee == "exactly_once"

    def _on_error(self, err: KafkaError) -> None:
        if err.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT):
            self.health.set_connected(False, err.str())
        if err.fatal():
            log.error("fatal Kafka error: %s", err.str())
            self.stop()

    def _new_producer(self) -> Any:
        return new_producer(self.kafka, self.config, self._on_error)

    def _setup(self) -> None:
        Admin(self.kafka).describe(timeout=10.0)  # reachable, and our credentials are accepted
        specs = list(self.config.ensure_topics)
        named = {spec.name for spec in specs}
        specs.extend(
            TopicSpec(name, self.config.state_partitions, self.config.state_replication)
            for name in self.processor.internal_topics()
            if name not in named
        )
        if self._changelog:
            specs.append(
                TopicSpec(
                    self._changelog,
                    self.config.state_partitions,
                    self.config.state_replication,
                    {"cleanup.policy": "compact"},
                )
            )
        if specs:
            Admin(self.kafka).ensure_topics(specs)
        self._producer = self._new_producer()
        self._producer_stale = False  # new clients: a session lost before needs no renewal
        self._consumer = Consumer(consumer_conf(self.kafka, self.config, self._on_error))
        self._consumer.subscribe(
            list(self._inputs),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )

    def _renew_producer(self) -> bool:
        """A new transactional producer in place of the current one, between batches (no
        transaction is open). Called after the consumer lost its group session: the group
        coordinator went away (a broker restart), and the old producer may keep it cached as
        a broker librdkafka has dropped, so its next ``send_offsets_to_transaction`` would
        hang until the limit (confluentinc/librdkafka#5511). A new one looks it up afresh.
        False when that failed and all clients were rebuilt (the records in hand are void)."""
        self._producer_stale = False
        self._producer = None  # the new producer fences the old one's transactional id
        try:
            self._producer = self._new_producer()
        except (BrokerError, KafkaException) as exc:
            self._rebuild_clients(f"renewing the producer: {exc}")
            return False
        log.info("%s: new producer after the group session was lost", self.config.service)
        return True

    def _setup_with_retries(self) -> bool:
        """Connect, create topics and initialise transactions, retrying with backoff while
        Kafka is unreachable. False when stopped before it succeeded."""
        delay = 1.0
        while not self._stop.is_set():
            try:
                self._setup()
                return True
            except KafkaAuthError:
                raise  # wrong credentials: fail loudly and early, retrying cannot help
            except (BrokerError, KafkaException) as exc:
                self.health.set_connected(False, str(exc))
                log.warning(
                    "%s waiting for Kafka (retry in %.0fs): %s", self.config.service, delay, exc
                )
                self._close_clients()
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)
        return False

    def _close_clients(self) -> None:
        consumer, producer = self._consumer, self._producer
        self._consumer = self._producer = None
        try:
            if consumer is not None:
                consumer.close()
        finally:
            if producer is not None:
                try:
                    producer.flush(10)
                except KafkaException as exc:  # a dead producer has nothing left to deliver
                    log.warning("%s: closing the producer: %s", self.config.service, exc)

    def _close(self) -> None:
        self._close_clients()
        log.info("%s stopped", self.config.service)

    def _rebuild_clients(self, reason: str) -> None:
        """Leave the blocked producer behind and start over with new clients: the consumer
        leaves the group (its partitions' state is dropped and restored again on the next
        assignment), the new producer fences the old transactional id, so the open
        transaction is aborted and the batch is read again."""
        log.error("%s: %s; rebuilding the Kafka clients", self.config.service, reason)
        self.metrics.aborted.labels(self.config.service).inc()
        consumer, self._consumer, self._producer = self._consumer, None, None
        if consumer is not None:
            try:
                consumer.close()  # revokes: on_revoke drops the partitions' state
            except KafkaException as exc:
                log.warning("%s: closing the old consumer: %s", self.config.service, exc)
        parts = sorted(self._states)
        self._states.clear()
        self.processor.on_revoked(parts)
        self.health.set_connected(False, reason)
        if not self._setup_with_retries():
            self.stop()

    # ---- rebalancing and state restore ---------------------------------------------------
    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        parts = sorted({p.partition for p in partitions})
        for p in parts:
            if p not in self._states:
                self._states[p] = self._restore(p)
        self.health.set_assigned(len(consumer.assignment()) + len(partitions))
        self.metrics.assigned.labels(self.config.service).set(len(partitions))
        self.processor.on_assigned(parts)
        log.info(
            "%s assigned %s",
            self.config.service,
            ", ".join(f"{p.topic}[{p.partition}]" for p in partitions),
        )

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        parts = sorted({p.partition for p in partitions})
        remaining = {tp.partition for tp in consumer.assignment() if tp not in partitions}
        for p in parts:
            if p not in remaining:
                self._states.pop(p, None)
        self.health.set_assigned(len(remaining))
        self.processor.on_revoked(parts)

    def _on_lost(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self._on_revoke(consumer, partitions)
        self._producer_stale = self.exactly_once  # see _renew_producer

    def _restore(self, partition: int) -> StateView[T]:
        codec = self.processor.state_codec
        if self._changelog is None or codec is None:
            return StateView(partition)
        conf = client_conf(self.kafka, self.config, f"restore-{partition}", self._on_error)
        return restore_partition(
            conf, self.config.group, self._changelog, partition, codec, self.config.service
        )

    def _state(self, partition: int) -> StateView[T]:
        view = self._states.get(partition)
        if view is None:  # assigned through a topic whose callback we have not seen yet
            view = self._states[partition] = self._restore(partition)
        return view
