"""Reading a topic whose partition leader is still being elected asks again, then reads."""

from __future__ import annotations

import time
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from gridstream.bus.reader import _high_watermark, watermark_offsets


class _Electing:
    """A consumer whose partition has no leader for its first ``failures`` questions."""

    def __init__(self, failures: int, code: int = KafkaError.NOT_LEADER_FOR_PARTITION) -> None:
        self.failures, self.code, self.asked = failures, code, 0

    def get_watermark_offsets(self, _tp: Any, timeout: float) -> tuple[int, int]:
        self.asked += 1
        if self.asked <= self.failures:
            raise KafkaException(KafkaError(self.code))
        return 0, 42


def test_the_watermark_is_asked_again_while_the_leader_is_elected() -> None:
    consumer = _Electing(failures=2)
    deadline = time.monotonic() + 10
    assert _high_watermark(consumer, "t", 0, deadline) == 42  # type: ignore[arg-type]
    assert consumer.asked == 3


def test_other_errors_and_an_election_past_the_deadline_are_raised() -> None:
    with pytest.raises(KafkaException):
        _high_watermark(
            _Electing(1, KafkaError.TOPIC_AUTHORIZATION_FAILED),  # type: ignore[arg-type]
            "t",
            0,
            time.monotonic() + 10,
        )
    consumer = _Electing(failures=100)
    with pytest.raises(KafkaException):
        _high_watermark(consumer, "t", 0, time.monotonic() + 0.5)  # type: ignore[arg-type]
    assert 2 <= consumer.asked < 100


def test_both_watermarks_come_back_after_an_election() -> None:
    consumer = _Electing(failures=1, code=KafkaError.LEADER_NOT_AVAILABLE)
    low_high = watermark_offsets(consumer, "t", 0, time.monotonic() + 10)  # type: ignore[arg-type]
    assert low_high == (0, 42)
    assert consumer.asked == 2
