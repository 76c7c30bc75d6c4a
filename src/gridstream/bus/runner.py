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
import time
from collections.abc import Iterable
from typing import TypeVar, cast

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from gridstream.bus.consumed import coords, key_of, next_offsets, with_correlation
from gridstream.bus.correlation import correlation_from, current_correlation
from gridstream.bus.processor import InRecord, OutRecord
from gridstream.bus.runner_align import RunnerAlignment
from gridstream.bus.runner_config import Guarantee, RunnerConfig
from gridstream.bus.runner_faults import Crashed
from gridstream.bus.serde import decode, encode
from gridstream.bus.txn_retry import COMMIT_LIMITS, OFFSETS_LIMITS, StuckClient, guarded
from gridstream.errors import SerdeError, ValidationError

__all__ = ["Guarantee", "Runner", "RunnerConfig"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class Runner(RunnerAlignment[T]):
    """Runs one :class:`Processor` against Kafka until stopped: the clients' life is in
    :mod:`gridstream.bus.runner_clients`, recovery from a failed batch in
    :mod:`gridstream.bus.runner_faults`, reading inputs in step in
    :mod:`gridstream.bus.runner_align`, and the loop with its transactions here."""

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
        self._align()  # then a just-paused partition's records go back unread
        records = self._held_back(records)
        self._batch_limits(records)
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
        committed = False
        handled: list[Message] = []  # less those held back for alignment
        try:
            for msg in records:
                outputs = self._handle(msg)
                if outputs is None:
                    continue
                handled.append(msg)
                for out in outputs:
                    self._produce(out)
            self._producer.poll(0)  # delivery reports, once per batch instead of per record
            if punctuate:
                for out in self.processor.punctuate(int(time.time() * 1000), self._states):
                    self._produce(out)
            self._flush_state()
            offsets = next_offsets(handled)
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
            committed = True
        except KafkaException as exc:
            self._recover(exc, records)
            return
        except Crashed as crash:
            self._poison(crash, records)
            return
        except StuckClient as exc:
            self._rebuild_clients(str(exc))
            return
        finally:
            self._commit_times(committed)
        service = self.config.service
        for topic, count in self._out_counts.items():
            self.metrics.records_out.labels(service, topic).inc(count)
        now = time.time()
        in_counts: dict[str, int] = {}
        latency = self.metrics.record_latency.labels(service)
        for msg in handled:
            name = msg.topic() or ""
            in_counts[name] = in_counts.get(name, 0) + 1
            _, ts = msg.timestamp()
            if ts > 0:
                latency.observe(max(0.0, now - ts / 1000))
        for name, count in in_counts.items():
            self.metrics.records_in.labels(service, name).inc(count)

    def _handle(self, msg: Message) -> Iterable[OutRecord] | None:
        """The record's outputs; None if it is held back to keep its inputs in step."""
        topic, part, offset = coords(msg)
        if self._held_in_batch(topic, part):
            return None
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
            if not self._time_record(topic, part, offset, value):
                return None
            key = key_of(msg)
            _, ts = msg.timestamp()
            cid = correlation_from(headers, value, f"{topic}/{part}/{offset}")
            token = current_correlation.set(cid)
            try:
                record = InRecord(topic, part, offset, key, value, ts, cid)
                outputs = list(self.processor.process(record, self._state(part)))
            finally:
                current_correlation.reset(token)
            return [with_correlation(out, cid) for out in outputs]
        except (SerdeError, ValidationError, UnicodeDecodeError) as exc:
            return [self._dead_letter(msg, str(exc), type(exc).__name__)]
        except Exception as exc:  # a bug must not lose the record: park it with the trace
            log.exception("%s failed on %s/%d/%d", self.config.service, topic, part, offset)
            reason, error_type = f"processing error: {exc!r}", type(exc).__name__
            if self.exactly_once:  # undo what it may have changed first (see _poison)
                raise Crashed((topic, part, offset), reason, error_type) from exc
            return [self._dead_letter(msg, reason, error_type)]

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

    def _update_lag(self, records: list[Message]) -> None:
        seen = {(t, p): o for t, p, o in map(coords, records)}
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
