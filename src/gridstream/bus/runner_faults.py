"""What a runner does when a batch fails: abort and rewind, park a record a processor crashed
on, or start over with new clients; and the dead-letter record for a rejected input."""

from __future__ import annotations

import logging
from typing import TypeVar

from confluent_kafka import KafkaException, Message, TopicPartition

from gridstream.bus.clients import replaceable
from gridstream.bus.consumed import coords, first_offsets, headers_of
from gridstream.bus.dead_letter import dead_letter
from gridstream.bus.processor import OutRecord
from gridstream.bus.runner_clients import RunnerClients
from gridstream.bus.txn_retry import ABORT_LIMITS, StuckClient, guarded

log = logging.getLogger("gridstream.bus.runner")
T = TypeVar("T")

#: how many crashed-on records are remembered (and dead-lettered when read again)
POISON_MEMORY = 10_000


class Crashed(Exception):
    """A processor raised an unexpected error on one record (exactly-once mode)."""

    def __init__(self, where: tuple[str, int, int], reason: str, error_type: str) -> None:
        super().__init__(f"{where[0]}/{where[1]}/{where[2]}: {reason}")
        self.coords, self.reason, self.error_type = where, reason, error_type


class RunnerFaults(RunnerClients[T]):
    """Recovery from a failed batch; the loop that meets the failures lives in ``Runner``."""

    def _recover(self, exc: KafkaException, records: list[Message]) -> None:
        """Abort the open transaction, rewind to the batch start and rebuild touched state;
        after a fatal producer error, start over with new clients (see ``_rebuild_clients``)."""
        err = exc.args[0] if exc.args else None
        if not self.exactly_once or err is None:
            raise exc
        if replaceable(exc):
            self._rebuild_clients(f"fatal transaction error: {err.str()}")
            return
        if not err.txn_requires_abort():
            raise exc
        log.warning("%s aborting transaction: %s", self.config.service, err.str())
        self._rewind(records)

    def _poison(self, crash: Crashed, records: list[Message]) -> None:
        """A processor raised on one record, maybe after changing state: undo the whole batch
        (outputs, offsets and state) and read it again; that record then goes to the dead
        letters without reaching the processor, so its half-done changes never stick."""
        log.warning("%s: undoing the batch around the crash at %s", self.config.service, crash)
        self._poisoned[crash.coords] = (crash.reason, crash.error_type)
        while len(self._poisoned) > POISON_MEMORY:
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
            if not replaceable(exc):
                raise
            self._rebuild_clients(f"aborting the transaction failed: {exc.args[0].str()}")
            return
        self.metrics.aborted.labels(self.config.service).inc()
        firsts = first_offsets(records)
        for (topic, part), offset in firsts.items():
            self._consumer.seek(TopicPartition(topic, part, offset))
        parts = sorted({p for _, p in firsts} & set(self._states))
        self.processor.on_revoked(parts)  # drop what the processor kept from the batch
        for part in parts:
            self._states[part] = self._restore(part)
        if parts:
            self.processor.on_assigned(parts)

    def _dead_letter(self, msg: Message, reason: str, error_type: str) -> OutRecord:
        topic, part, offset = coords(msg)
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
            headers_of(msg),
        )
        self.metrics.dead_letters.labels(self.config.service, error_type).inc()
        key = key_bytes.decode(errors="replace") if key_bytes else ""
        return OutRecord(self.config.dead_letter_topic, key, letter, tuple(headers))
