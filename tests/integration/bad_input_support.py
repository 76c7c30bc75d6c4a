"""Helpers of the bad-input tests: poison records, a processor running in a thread, and the
reconciliation of what went in against what came out and what was dead-lettered.

Each case is a :class:`Case`: a label, the bytes to inject (value, key, headers) and what must
happen to it. The label travels as a header (``bad-case``), which the dead-letter record keeps
in ``original_headers``, so every dead letter can be traced back to the case that caused it.

The tests share one series (``SID``), its start time ``T0``, the quarter-hour ``Q`` and the
message builders of the records that several services consume.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from google.protobuf.message import DecodeError, Message

from gridstream.bus.producer import MessageProducer
from gridstream.bus.reader import ReadRecord, read_topic
from gridstream.bus.runner import Runner
from gridstream.bus.serde import SCHEMA_HEADER, TYPE_HEADER, encode
from gridstream.bus.settings import KafkaSettings
from gridstream.schemas import features_pb2, readings_pb2
from gridstream.schemas.alert_pb2 import SystemEvent
from gridstream.schemas.dead_letter_pb2 import DeadLetter

from .ingest_support import ms

CASE_HEADER = "bad-case"
Outcome = Literal["dead", "ok", "any"]
#: larger than the biggest legitimate record by far, well under the broker's 4 MiB limit
OVERSIZED_BYTES = 1_200_000

SID = "ALL/SYSTEM_DEMAND"
T0 = ms(2024, 3, 1)
Q = 900_000
FUTURE = ms(2999, 1, 1)
NAN, INF = float("nan"), float("inf")


@dataclass(frozen=True)
class Case:
    label: str
    topic: str
    key: str
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    expect: Outcome  # dead: lands in dead_letter; ok: processed; any: either, but accounted
    reason: str = ""  # a fragment the dead letter's reason must contain


def message_case(
    label: str, topic: str, key: str, msg: Message, expect: Outcome, reason: str = ""
) -> Case:
    value, headers = encode(msg)
    return Case(label, topic, key, value, tuple(headers), expect, reason)


def series_case(label: str, topic: str, msg: Message, expect: Outcome, reason: str = "") -> Case:
    """A :func:`message_case` keyed by the test series ``SID``."""
    return message_case(label, topic, SID, msg, expect, reason)


def reading_fields(ts_ms: int, value: float) -> dict[str, Any]:
    """The fields that every per-reading message of the test series ``SID`` carries."""
    return {
        "record_id": f"{SID}@{ts_ms}",
        "series_id": SID,
        "region": "ALL",
        "field": "SYSTEM_DEMAND",
        "ts_ms": ts_ms,
        "value": value,
    }


def clean_reading(ts_ms: int, value: float, **extra: Any) -> readings_pb2.CleanReading:
    fields = reading_fields(ts_ms, value) | {"unit": "MW", "interval_minutes": 15}
    return readings_pb2.CleanReading(**(fields | extra))


def feature_vector(
    ts_ms: int, value: float, feature_set: str = "v1", **extra: Any
) -> features_pb2.FeatureVector:
    fields: dict[str, Any] = {
        "series_id": SID,
        "region": "ALL",
        "field": "SYSTEM_DEMAND",
        "ts_ms": ts_ms,
        "value": value,
        "feature_set": feature_set,
        "features": {"lag_1": value},
    }
    fields.update(extra)
    return features_pb2.FeatureVector(**fields)


def _mid_field_cut(data: bytes, message_type: type[Message]) -> bytes:
    """A prefix of ``data`` that does not parse (cut inside a field), near the middle."""
    for cut in sorted(range(1, len(data)), key=lambda c: abs(c - len(data) // 2)):
        try:
            message_type.FromString(data[:cut])
        except DecodeError:
            return data[:cut]
    raise AssertionError("every prefix parses: use a message with a longer string field")


def wire_cases(topic: str, key: str, valid: Message) -> list[Case]:
    """Undecodable or mistyped records for ``topic`` whose type is ``type(valid)``; their
    labels are ``<topic>:<case>``."""
    value, headers = encode(valid)
    type_h = (TYPE_HEADER, valid.DESCRIPTOR.full_name.encode())
    wrong = (
        SystemEvent(event_id="e", kind="wrong_type")
        if not isinstance(valid, SystemEvent)
        else (DeadLetter(service="x", reason="wrong type"))
    )
    wrong_value, wrong_headers = encode(wrong)
    garbage = b"\x0f\xff\xff\xff\xff" + os.urandom(32)  # wire type 7: never valid protobuf
    return [
        Case(
            f"{topic}:random-bytes",
            topic,
            key,
            os.urandom(48),
            (),
            "dead",
            "missing gs-type header",
        ),
        Case(f"{topic}:garbage-typed", topic, key, garbage, (type_h,), "dead", "undecodable"),
        Case(
            f"{topic}:truncated",
            topic,
            key,
            _mid_field_cut(value, type(valid)),
            tuple(headers),
            "dead",
            "undecodable",
        ),
        Case(
            f"{topic}:wrong-type", topic, key, wrong_value, tuple(wrong_headers), "dead", "expected"
        ),
        Case(f"{topic}:tombstone", topic, key, None, tuple(headers), "dead", "empty value"),
        Case(
            f"{topic}:schema-v9",
            topic,
            key,
            value,
            (type_h, (SCHEMA_HEADER, b"9")),
            "dead",
            "unsupported schema version",
        ),
        Case(
            f"{topic}:oversized",
            topic,
            key,
            value + b"\x00" * OVERSIZED_BYTES,
            tuple(headers),
            "dead",
            "bytes",
        ),
    ]


def inject(kafka: KafkaSettings, cases: list[Case]) -> None:
    producer = MessageProducer(kafka)
    producer._producer = _big_producer(kafka)  # the oversized case exceeds the 1 MB default
    for case in cases:
        producer.send_raw(
            case.topic,
            case.key.encode(),
            case.value,
            [*case.headers, (CASE_HEADER, case.label.encode())],
        )
    producer.flush()


def _big_producer(kafka: KafkaSettings) -> Any:
    from confluent_kafka import Producer

    conf: dict[str, Any] = dict(kafka.client_config())
    conf.update({"message.max.bytes": 4_000_000, "acks": "all", "enable.idempotence": True})
    return Producer(conf)


@dataclass
class Running:
    """A runner in a thread; ``consumed`` reads its committed input count from its metrics."""

    runner: Runner[Any]
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self.runner.run, daemon=True)
        self.thread.start()

    def consumed(self) -> int:
        total = 0.0
        for topic in self.runner.processor.inputs():
            value = self.runner.registry.get_sample_value(
                "gridstream_records_in_total",
                {"service": self.runner.config.service, "topic": topic},
            )
            total += value or 0.0
        return int(total)

    def wait_consumed(self, count: int, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.consumed() < count:
            assert self.thread.is_alive(), "the service's runner died on bad input"
            assert time.monotonic() < deadline, f"consumed {self.consumed()} of {count}"
            time.sleep(0.1)

    def stop(self) -> None:
        self.runner.stop()
        self.thread.join(60)


def run_fed(runner: Runner[Any], kafka: KafkaSettings, cases: list[Case]) -> Running:
    """Start ``runner`` in a thread, inject ``cases`` and wait until it has consumed them all
    and is still alive. The caller stops it; it is stopped here if any of this fails."""
    running = Running(runner)
    try:
        inject(kafka, cases)
        running.wait_consumed(len(cases))
        assert running.thread.is_alive() and running.runner.health.snapshot().alive
    except BaseException:
        running.stop()
        raise
    return running


def dead_letters(kafka: KafkaSettings, topic: str) -> list[ReadRecord[DeadLetter]]:
    return read_topic(kafka, topic, DeadLetter)


def case_of(letter: DeadLetter) -> str:
    return letter.original_headers.get(CASE_HEADER, "")


def check_dead_letters(
    cases: list[Case], letters: list[ReadRecord[DeadLetter]], service: str
) -> Counter[str]:
    """Every ``dead`` case is dead-lettered once with its reason; no ``ok`` case is.
    Returns the number of dead letters per case label."""
    by_case: Counter[str] = Counter()
    for record in letters:
        letter = record.value
        label = case_of(letter)
        by_case[label] += 1
        assert letter.service == service, letter
        assert letter.reason and letter.error_type, letter
        case = next((c for c in cases if c.label == label), None)
        assert case is not None, f"dead letter of an unknown record: {letter.reason}"
        assert letter.source_topic == case.topic
        assert case.expect != "ok", f"{label} was dead-lettered: {letter.reason}"
        assert case.reason.lower() in letter.reason.lower(), (label, letter.reason)
    for case in cases:
        if case.expect == "dead":
            assert by_case[case.label] == 1, f"{case.label}: {by_case[case.label]} dead letters"
    return by_case
