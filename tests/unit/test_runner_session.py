"""The runner's reaction to a lost group session, without a broker: the callback only marks
the producer for renewal (the loop renews it between batches; see the integration test)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from google.protobuf.message import Message

from gridstream.bus.processor import InRecord, OutRecord, Processor
from gridstream.bus.runner import Guarantee, Runner, RunnerConfig
from gridstream.bus.settings import KafkaSettings
from gridstream.bus.state import StateView
from gridstream.schemas.readings_pb2 import RawReading


class _Echo(Processor[int]):
    def __init__(self) -> None:
        self.revoked: list[list[int]] = []

    def inputs(self) -> Mapping[str, type[Message]]:
        return {"src": RawReading}

    def process(self, record: InRecord, state: StateView[int]) -> Iterable[OutRecord]:
        return []

    def on_revoked(self, partitions: list[int]) -> None:
        self.revoked.append(partitions)


class _Consumer:
    def assignment(self) -> list[Any]:
        return []


class _Partition:
    def __init__(self, partition: int) -> None:
        self.topic, self.partition = "src", partition


@pytest.mark.parametrize(("guarantee", "stale"), [("exactly_once", True), ("at_least_once", False)])
def test_a_lost_session_drops_the_partitions_and_marks_the_producer(
    guarantee: Guarantee, stale: bool
) -> None:
    processor = _Echo()
    runner: Runner[int] = Runner(
        KafkaSettings(),
        RunnerConfig(service="t", group="g", dead_letter_topic="dlq", guarantee=guarantee),
        processor,
    )
    runner._states[1] = StateView(1)
    assert not runner._producer_stale
    runner._on_lost(_Consumer(), [_Partition(1)])  # type: ignore[list-item]
    assert runner._producer_stale is stale  # only transactions use the group coordinator
    assert 1 not in runner._states
    assert processor.revoked == [[1]]


class _Queue:
    """A consumer whose records are all fetched already; records the waits asked of it."""

    def __init__(self, records: int) -> None:
        self.left = records
        self.waits: list[float] = []

    def _take(self, n: int) -> list[Any]:
        got = min(n, self.left)
        self.left -= got
        return [object()] * got

    def consume(self, n: int, timeout: float) -> list[Any]:
        if timeout > 0:
            self.waits.append(timeout)
        return self._take(n)

    def poll(self, timeout: float) -> Any:
        got = self._take(1)
        return got[0] if got else None


def test_the_linger_paces_batches_from_the_previous_start_not_from_each_first_record() -> None:
    runner: Runner[int] = Runner(
        KafkaSettings(),
        RunnerConfig(service="t", group="g", dead_letter_topic="dlq", batch_size=2),
        _Echo(),
    )
    runner._linger_s = 0.05
    queue = _Queue(records=5)
    runner._consumer = queue
    assert len(runner._consume()) == 2  # a full batch never waits
    assert queue.waits == []
    runner._batch_started -= 1.0  # a quiet second since: the next record goes at once
    queue.left = 1
    assert len(runner._consume()) == 1
    assert queue.waits == []
    queue.left = 1  # right after that batch: wait for more, at most the linger
    assert len(runner._consume()) == 1
    assert len(queue.waits) == 1 and 0.0 < queue.waits[0] <= 0.05
