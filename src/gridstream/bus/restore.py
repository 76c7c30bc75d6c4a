"""Rebuilding a partition's keyed state from its compacted changelog topic."""

from __future__ import annotations

import logging
import time
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from gridstream.bus.consumed import key_of
from gridstream.bus.state import StateCodec, StateView

log = logging.getLogger(__name__)
T = TypeVar("T")

#: transient errors of a just-created topic whose partition leaders are still settling
SETTLING = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._UNKNOWN_PARTITION,
    KafkaError._TIMED_OUT,
}


def restore_partition(
    conf: dict[str, Any],
    group: str,
    changelog: str,
    partition: int,
    codec: StateCodec[T],
    service: str,
) -> StateView[T]:
    """Every committed entry of ``changelog``'s ``partition``, read to its end with a consumer
    built from ``conf`` (a client configuration) in the group ``<group>-restore``."""
    view: StateView[T] = StateView(partition)
    conf = {
        **conf,
        "group.id": f"{group}-restore",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "enable.partition.eof": True,
    }
    reader = Consumer(conf)
    try:
        low, high = changelog_bounds(reader, changelog, partition, service)
        if high <= low:
            return view
        reader.assign([TopicPartition(changelog, partition, low)])
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
            value = msg.value()
            view.load(key_of(msg) or "", None if value is None else codec.from_bytes(value))
            count += 1
        log.info("%s restored %d state entries of partition %d", service, count, partition)
    finally:
        reader.close()
    return view


def changelog_bounds(reader: Any, changelog: str, partition: int, service: str) -> tuple[int, int]:
    """Watermarks of a changelog partition, retrying while a new topic's leader settles
    (NOT_LEADER_FOR_PARTITION right after creation used to kill the runner)."""
    for attempt in range(10):
        try:
            low, high = reader.get_watermark_offsets(
                TopicPartition(changelog, partition), timeout=10
            )
            return int(low), int(high)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if attempt == 9 or err is None or err.code() not in SETTLING:
                raise
            log.info("%s changelog not ready (%s); retrying", service, err.str())
            time.sleep(0.5)
    raise AssertionError("unreachable")
