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
