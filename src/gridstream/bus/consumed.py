"""Reading a consumed Kafka message's coordinates, key and headers, and the offsets to commit."""

from __future__ import annotations

from confluent_kafka import KafkaException, Message, TopicPartition

from gridstream.bus.correlation import CORRELATION_HEADER, correlation_header
from gridstream.bus.processor import OutRecord


def coords(msg: Message) -> tuple[str, int, int]:
    """Topic, partition and offset of a consumed (non-error) message."""
    topic, part, offset = msg.topic(), msg.partition(), msg.offset()
    if topic is None or part is None or offset is None:
        raise KafkaException(f"consumed message without coordinates: {msg!r}")
    return topic, part, offset


def headers_of(msg: Message) -> list[tuple[str, bytes | None]]:
    raw = msg.headers() or []
    items = raw.items() if isinstance(raw, dict) else raw
    return [(k, v.encode() if isinstance(v, str) else v) for k, v in items]


def key_of(msg: Message) -> str | None:
    key = msg.key()
    if key is None:
        return None
    return key.decode() if isinstance(key, bytes) else str(key)


def with_correlation(out: OutRecord, cid: str) -> OutRecord:
    """``out`` with the correlation header of the record that caused it (unless it has one)."""
    if any(name == CORRELATION_HEADER for name, _ in out.headers):
        return out
    return OutRecord(out.topic, out.key, out.value, (*out.headers, correlation_header(cid)))


def next_offsets(records: list[Message]) -> list[TopicPartition]:
    """The offsets to commit after ``records``: one past the last of each partition."""
    last: dict[tuple[str, int], int] = {}
    for msg in records:
        topic, part, offset = coords(msg)
        last[(topic, part)] = offset
    return [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]


def first_offsets(records: list[Message]) -> dict[tuple[str, int], int]:
    """Where each partition of ``records`` starts: the offsets to seek back to."""
    firsts: dict[tuple[str, int], int] = {}
    for msg in records:
        topic, part, offset = coords(msg)
        firsts.setdefault((topic, part), offset)
    return firsts
