"""The processing runner every service uses: consume -> process -> produce, exactly once.

``exactly_once`` mode wraps each batch in a Kafka transaction holding the outputs, the dead
letters, the state changelog entries and the consumer offsets
(``send_offsets_to_transaction``); consumers read with ``isolation.level=read_committed``.
``at_least_once`` mode produces, flushes and then commits offsets. Records that cannot be
decoded or validated go to the dead-letter topic and processing continues. A processor that
raises anything else on a record (a bug) may have changed state before it failed: in
exactly-once mode the whole batch is undone (transaction aborted, state rebuilt from the
changelog, offsets rewound) and read again, and that record goes to the dead letters without
reaching the processor. SIGTERM/SIGINT finish the open batch and close cleanly.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Generic, Literal, TypeVar, cast

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from prometheus_client import CollectorRegistry

from gridstream.bus.admin import Admin
from gridstream.bus.client_logs import client_logger
from gridstream.bus.correlation import (
    CORRELATION_HEADER,
    correlation_from,
    correlation_header,
    current_correlation,
)
from gridstream.bus.dead_letter import dead_letter
from gridstream.bus.health import RunnerHealth
from gridstream.bus.metrics import RunnerMetrics
from gridstream.bus.processor import InRecord, OutRecord, Processor
from gridstream.bus.serde import decode, encode
from gridstream.bus.settings import FAST_TXN_RETRY, KafkaSettings
from gridstream.bus.state import StateView, changelog_topic
from gridstream.bus.topics import TopicSpec
from gridstream.bus.txn_retry import (
    ABORT_LIMITS,
    COMMIT_LIMITS,
    OFFSETS_LIMITS,
    StuckClient,
    guarded,
)
from gridstream.errors import BrokerError, KafkaAuthError, SerdeError, ValidationError

log = logging.getLogger(__name__)
T = TypeVar("T")
Guarantee = Literal["exactly_once", "at_least_once"]
#: transient errors of a just-created topic whose partition leaders are still settling
_SETTLING = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._UNKNOWN_PARTITION,
    KafkaError._TIMED_OUT,
}


@dataclass(frozen=True)
class RunnerConfig:
    service: str
    group: str
    dead_letter_topic: str
    guarantee: Guarantee = "exactly_once"
    instance_id: str = "0"
    batch_size: int = 500
    poll_timeout_s: float = 0.2
    #: after the first record of a batch, collect more for this long (see ``_consume``)
    batch_linger_s: float = 0.0
    #: the broker's hold on a fetch that finds nothing new (``fetch.wait.max.ms``)
    fetch_wait_ms: int = 100
    state_partitions: int = 3
    state_replication: int = 1
    #: larger input records are dead-lettered unread (far above any GridStream message)
    max_record_bytes: int = 512 * 1024
    #: topics created (if missing) at start-up, e.g. the pipeline topics the service uses
    ensure_topics: tuple[TopicSpec, ...] = ()


#: a producer fenced by another instance with the same transactional id must not fight back
_FENCED = {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}


def _replaceable(exc: KafkaException) -> bool:
    """A fatal client error that new clients cure (anything but being fenced)."""
    err = exc.args[0] if exc.args else None
    return bool(err is not None and err.fatal() and err.code() not in _FENCED)


def _coords(msg: Message) -> tuple[str, int, int]:
    """Topic, partition and offset of a consumed (non-error) message."""
    topic, part, offset = msg.topic(), msg.partition(), msg.offset()
    if topic is None or part is None or offset is None:
        raise KafkaException(f"consumed message without coordinates: {msg!r}")
    return topic, part, offset


def _headers(msg: Message) -> list[tuple[str, bytes | None]]:
    raw = msg.headers() or []
    items = raw.items() if isinstance(raw, dict) else raw
    return [(k, v.encode() if isinstance(v, str) else v) for k, v in items]


def _with_correlation(out: OutRecord, cid: str) -> OutRecord:
    """``out`` with the correlation header of the record that caused it (unless it has one)."""
    if any(name == CORRELATION_HEADER for name, _ in out.headers):
        return out
    return OutRecord(out.topic, out.key, out.value, (*out.headers, correlation_header(cid)))


def _key(msg: Message) -> str | None:
    key = msg.key()
    if key is None:
        return None
    return key.decode() if isinstance(key, bytes) else str(key)


_POISON_MEMORY = 10_000


class _Crashed(Exception):
    """A processor raised an unexpected error on one record (exactly-once mode)."""

    def __init__(self, coords: tuple[str, int, int], reason: str, error_type: str) -> None:
        super().__init__(f"{coords[0]}/{coords[1]}/{coords[2]}: {reason}")
        self.coords, self.reason, self.error_type = coords, reason, error_type


class Runner(Generic[T]):
    """Runs one :class:`Processor` against Kafka until stopped."""

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

    # ---- lifecycle -------------------------------------------------------------------------
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

    def _client_conf(self, suffix: str) -> dict[str, Any]:
        conf: dict[str, Any] = dict(self.kafka.client_config())
        conf["client.id"] = f"{self.config.service}-{self.config.instance_id}-{suffix}"
        conf["logger"] = client_logger()
        conf["error_cb"] = self._on_error
        return conf

    def _on_error(self, err: KafkaError) -> None:
        if err.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT):
            self.health.set_connected(False, err.str())
        if err.fatal():
            log.error("fatal Kafka error: %s", err.str())
            self.stop()

    def _setup(self) -> None:
        Admin(self.kafka).describe(timeout=10.0)  # reachable, and our credentials are accepted
        specs = list(self.config.ensure_topics)
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
        cconf = self._client_conf("consumer")
        cconf.update(
            {
                "group.id": self.config.group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                "session.timeout.ms": 10000,
                "heartbeat.interval.ms": 2000,
                "max.poll.interval.ms": 300000,
                "fetch.wait.max.ms": self.config.fetch_wait_ms,
                # notice topics created after subscribing within seconds, not minutes
                "topic.metadata.refresh.interval.ms": 10000,
                # pre-fetch at most 8 MiB (default 64 MiB): a batch is 5,000 small records
                "queued.max.messages.kbytes": 8192,
            }
        )
        self._consumer = Consumer(cconf)
        self._consumer.subscribe(
            list(self._inputs),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )

    def _new_producer(self) -> Any:
        pconf = self._client_conf("producer")
        pconf.update(
            {"enable.idempotence": True, "acks": "all", "linger.ms": 5, "compression.type": "lz4"}
        )
        if self.exactly_once:
            pconf.update(FAST_TXN_RETRY)
            pconf["transactional.id"] = f"{self.config.group}-{self.config.instance_id}"
            pconf["transaction.timeout.ms"] = 60000
        producer = Producer(pconf)
        if self.exactly_once:
            try:
                producer.init_transactions(60)
            except KafkaException as exc:
                raise BrokerError(
                    f"{self.config.service}: cannot initialise transactions: {exc}"
                ) from exc
        return producer

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

    def run(self) -> None:
        """Process until ``stop()`` (or a signal); then close the clients cleanly."""
        self.health.started()
        if not self._setup_with_retries():
            self.health.stopped("stopped before Kafka was reachable")
            return
        error = ""
        try:
            while not self._stop.is_set():
                self._iteration()
        except Exception as exc:
            error = repr(exc)
            raise
        finally:
            self.health.stopped(error)
            self._close()

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
        view: StateView[T] = StateView(partition)
        codec = self.processor.state_codec
        if self._changelog is None or codec is None:
            return view
        conf = self._client_conf(f"restore-{partition}")
        conf.update(
            {
                "group.id": f"{self.config.group}-restore",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
            }
        )
        reader = Consumer(conf)
        try:
            low, high = self._changelog_bounds(reader, partition)
            if high <= low:
                return view
            reader.assign([TopicPartition(self._changelog, partition, low)])
            count = 0
            while True:
                msg = reader.poll(1.0)
                if msg is None:
                    continue
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        break
                    raise KafkaException(err)
                key = _key(msg) or ""
                value = msg.value()
                view.load(key, None if value is None else codec.from_bytes(value))
                count += 1
            log.info(
                "%s restored %d state entries of partition %d",
                self.config.service,
                count,
                partition,
            )
        finally:
            reader.close()
        return view

    def _changelog_bounds(self, reader: Any, partition: int) -> tuple[int, int]:
        """Watermarks of a changelog partition, retrying while a new topic's leader settles
        (NOT_LEADER_FOR_PARTITION right after creation used to kill the runner)."""
        assert self._changelog is not None
        for attempt in range(10):
            try:
                low, high = reader.get_watermark_offsets(
                    TopicPartition(self._changelog, partition), timeout=10
                )
                return int(low), int(high)
            except KafkaException as exc:
                err = exc.args[0] if exc.args else None
                if attempt == 9 or err is None or err.code() not in _SETTLING:
                    raise
                log.info("%s changelog not ready (%s); retrying", self.config.service, err.str())
                time.sleep(0.5)
        raise AssertionError("unreachable")

    def _state(self, partition: int) -> StateView[T]:
        view = self._states.get(partition)
        if view is None:  # assigned through a topic whose callback we have not seen yet
            view = self._states[partition] = self._restore(partition)
        return view

    # ---- the loop --------------------------------------------------------------------------
    def _iteration(self) -> None:
        msgs = self._consume()
        self.health.loop()
        records: list[Message] = []
        for msg in msgs:
            err = msg.error()
            if err is None:
                records.append(msg)
            elif err.code() == KafkaError._PARTITION_EOF:
                continue
            elif err.fatal():
                raise KafkaException(err)
            else:
                log.warning("%s consumer error: %s", self.config.service, err.str())
        if msgs or self._consumer.assignment():
            self.health.set_connected(True)
        punctuate = self._due_punctuation()
        if not records and not punctuate:
            return
        if self._producer_stale and not self._renew_producer():
            return
        started = time.monotonic()
        self._process_batch(records, punctuate)
        self.metrics.batch_seconds.labels(self.config.service).observe(time.monotonic() - started)
        self._update_lag(records)

    def _consume(self) -> list[Message]:
        """Up to a batch: what is already fetched, else the first record to arrive; then,
        unless the batch is full, more until ``batch_linger_s`` after the previous batch
        started.

        ``consume(n, timeout)`` waits out the whole timeout unless ``n`` records arrive, so
        the wait for the first record is a ``poll``. The linger paces the transactions: at a
        live rate each record (or the one or two that arrived during the last commit) would
        otherwise be its own transaction, and eight services committing that often kept both
        cores busy with commits alone. It counts from the previous batch's start, not from
        the first record: a record that arrives after a quiet spell is processed at once, so
        a hop that receives its upstream's committed batches (which come whole, one per
        upstream linger) adds no wait of its own, while a steady trickle is still gathered
        into at most one transaction per linger.
        """
        batch = min(self.config.batch_size, self.processor.max_batch or self.config.batch_size)
        msgs: list[Message] = self._consumer.consume(batch, 0)
        if not msgs:
            first = self._consumer.poll(self.config.poll_timeout_s)
            if first is None:
                return []
            msgs = [first]
        if len(msgs) < batch and self._linger_s > 0:
            wait = self._linger_s - (time.monotonic() - self._batch_started)
            msgs += self._consumer.consume(batch - len(msgs), max(0.0, wait))
        self._batch_started = time.monotonic()
        return msgs

    def _due_punctuation(self) -> bool:
        interval = self.processor.punctuate_interval_s
        if interval is None:
            return False
        now = time.monotonic()
        if now - self._last_punctuate >= interval:
            self._last_punctuate = now
            return True
        return False

    def _process_batch(self, records: list[Message], punctuate: bool) -> None:
        if self.exactly_once:
            self._producer.begin_transaction()
        self._out_counts = {}
        try:
            for msg in records:
                for out in self._handle(msg):
                    self._produce(out)
            self._producer.poll(0)  # delivery reports, once per batch instead of per record
            if punctuate:
                for out in self.processor.punctuate(int(time.time() * 1000), self._states):
                    self._produce(out)
            self._flush_state()
            offsets = self._next_offsets(records)
            if self.exactly_once:
                producer, metadata = self._producer, self._consumer.consumer_group_metadata()
                if offsets:
                    guarded(
                        lambda t: producer.send_offsets_to_transaction(offsets, metadata, t),
                        OFFSETS_LIMITS,
                        f"{self.config.service}: adding offsets to the transaction",
                        self._stop,
                    )
                guarded(
                    producer.commit_transaction,
                    COMMIT_LIMITS,
                    f"{self.config.service}: committing the transaction",
                    self._stop,
                )
            else:
                self._producer.flush(60)
                if offsets:
                    self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            self._recover(exc, records)
            return
        except _Crashed as crash:
            self._poison(crash, records)
            return
        except StuckClient as exc:
            self._rebuild_clients(str(exc))
            return
        service = self.config.service
        for topic, count in self._out_counts.items():
            self.metrics.records_out.labels(service, topic).inc(count)
        now = time.time()
        in_counts: dict[str, int] = {}
        latency = self.metrics.record_latency.labels(service)
        for msg in records:
            name = msg.topic() or ""
            in_counts[name] = in_counts.get(name, 0) + 1
            _, ts = msg.timestamp()
            if ts > 0:
                latency.observe(max(0.0, now - ts / 1000))
        for name, count in in_counts.items():
            self.metrics.records_in.labels(service, name).inc(count)

    def _recover(self, exc: KafkaException, records: list[Message]) -> None:
        """Abort the open transaction, rewind to the batch start and rebuild touched state;
        after a fatal producer error, start over with new clients (see ``_rebuild_clients``)."""
        err = exc.args[0] if exc.args else None
        if not self.exactly_once or err is None:
            raise exc
        if _replaceable(exc):
            self._rebuild_clients(f"fatal transaction error: {err.str()}")
            return
        if not err.txn_requires_abort():
            raise exc
        log.warning("%s aborting transaction: %s", self.config.service, err.str())
        self._rewind(records)

    def _poison(self, crash: _Crashed, records: list[Message]) -> None:
        """A processor raised on one record, maybe after changing state: undo the whole batch
        (outputs, offsets and state) and read it again; that record then goes to the dead
        letters without reaching the processor, so its half-done changes never stick."""
        log.warning("%s: undoing the batch around the crash at %s", self.config.service, crash)
        self._poisoned[crash.coords] = (crash.reason, crash.error_type)
        while len(self._poisoned) > _POISON_MEMORY:
            self._poisoned.popitem(last=False)
        self._rewind(records)

    def _rewind(self, records: list[Message]) -> None:
        producer = self._producer
        what = f"{self.config.service}: aborting the transaction"
        try:
            guarded(producer.abort_transaction, ABORT_LIMITS, what, self._stop)
        except StuckClient as exc:  # a new producer fences this one: the broker aborts
            self._rebuild_clients(str(exc))
            return
        except KafkaException as exc:
            # e.g. INVALID_TXN_STATE when the abort raced the registration of the batch's
            # partitions: the producer is dead, a new one fences it and the broker aborts
            if not _replaceable(exc):
                raise
            self._rebuild_clients(f"aborting the transaction failed: {exc.args[0].str()}")
            return
        self.metrics.aborted.labels(self.config.service).inc()
        firsts: dict[tuple[str, int], int] = {}
        for msg in records:
            topic, part, offset = _coords(msg)
            firsts.setdefault((topic, part), offset)
        for (topic, part), offset in firsts.items():
            self._consumer.seek(TopicPartition(topic, part, offset))
        parts = sorted({p for _, p in firsts} & set(self._states))
        self.processor.on_revoked(parts)  # drop what the processor kept from the batch
        for part in parts:
            self._states[part] = self._restore(part)
        if parts:
            self.processor.on_assigned(parts)

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

    def _handle(self, msg: Message) -> Iterable[OutRecord]:
        topic, part, offset = _coords(msg)
        raw = msg.value()
        size = len(raw) if raw is not None else 0
        if size > self.config.max_record_bytes:
            reason = f"oversized: {size} bytes, more than {self.config.max_record_bytes} bytes"
            return [self._dead_letter(msg, reason, "OversizedRecord")]
        poisoned = self._poisoned.get((topic, part, offset))
        if poisoned is not None:
            return [self._dead_letter(msg, *poisoned)]
        try:
            headers = cast("list[tuple[str, bytes | None]] | None", msg.headers())
            value = decode(raw, headers, self._inputs[topic])
            key = _key(msg)
            _, ts = msg.timestamp()
            cid = correlation_from(headers, value, f"{topic}/{part}/{offset}")
            token = current_correlation.set(cid)
            try:
                record = InRecord(topic, part, offset, key, value, ts, cid)
                outputs = list(self.processor.process(record, self._state(part)))
            finally:
                current_correlation.reset(token)
            return [_with_correlation(out, cid) for out in outputs]
        except (SerdeError, ValidationError, UnicodeDecodeError) as exc:
            return [self._dead_letter(msg, str(exc), type(exc).__name__)]
        except Exception as exc:  # a bug must not lose the record: park it with the trace
            log.exception("%s failed on %s/%d/%d", self.config.service, topic, part, offset)
            reason, error_type = f"processing error: {exc!r}", type(exc).__name__
            if self.exactly_once:  # undo what it may have changed first (see _poison)
                raise _Crashed((topic, part, offset), reason, error_type) from exc
            return [self._dead_letter(msg, reason, error_type)]

    def _dead_letter(self, msg: Message, reason: str, error_type: str) -> OutRecord:
        topic, part, offset = _coords(msg)
        raw_key = msg.key()
        key_bytes = raw_key.encode() if isinstance(raw_key, str) else raw_key
        letter, headers = dead_letter(
            self.config.service,
            reason,
            error_type,
            topic,
            part,
            offset,
            key_bytes,
            msg.value(),
            _headers(msg),
        )
        self.metrics.dead_letters.labels(self.config.service, error_type).inc()
        key = key_bytes.decode(errors="replace") if key_bytes else ""
        return OutRecord(self.config.dead_letter_topic, key, letter, tuple(headers))

    def _produce(self, out: OutRecord) -> None:
        value, headers = encode(out.value)
        if out.headers:
            headers = [*headers, *out.headers]
        try:
            self._producer.produce(out.topic, value=value, key=out.key.encode(), headers=headers)
        except BufferError:  # local queue full: serve delivery reports, then try once more
            self._producer.poll(1.0)
            self._producer.produce(out.topic, value=value, key=out.key.encode(), headers=headers)
        self._out_counts[out.topic] = self._out_counts.get(out.topic, 0) + 1

    def _flush_state(self) -> None:
        codec = self.processor.state_codec
        if self._changelog is None or codec is None:
            return
        for part, view in self._states.items():
            for key, value in view.take_dirty():
                self._producer.produce(
                    self._changelog,
                    key=key.encode(),
                    value=None if value is None else codec.to_bytes(value),
                    partition=part,
                )

    @staticmethod
    def _next_offsets(records: list[Message]) -> list[TopicPartition]:
        last: dict[tuple[str, int], int] = {}
        for msg in records:
            topic, part, offset = _coords(msg)
            last[(topic, part)] = offset
        return [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]

    def _update_lag(self, records: list[Message]) -> None:
        seen = {(t, p): o for t, p, o in map(_coords, records)}
        for (topic, part), offset in seen.items():
            try:
                _, high = self._consumer.get_watermark_offsets(
                    TopicPartition(topic, part), cached=True
                )
            except KafkaException:
                continue
            if high >= 0:
                self.metrics.consumer_lag.labels(self.config.service, topic, str(part)).set(
                    max(0, high - offset - 1)
                )
