"""The contract between the runner and a service's logic.

A service implements :class:`Processor`: it names its input topics and their message types
and turns one decoded record into zero or more output records. It does no Kafka I/O; the
runner consumes, decodes, calls it, produces the outputs and commits, exactly once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from google.protobuf.message import Message

from gridstream.bus.state import StateCodec, StateView

T = TypeVar("T")


@dataclass(frozen=True)
class InRecord:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: Message
    timestamp_ms: int
    #: follows a reading through the pipeline (header gs-correlation-id); outputs returned by
    #: ``process`` carry it automatically, outputs made later can pass it in ``headers``
    correlation_id: str = ""


@dataclass(frozen=True)
class OutRecord:
    topic: str
    key: str
    value: Message
    headers: tuple[tuple[str, bytes], ...] = field(default=())


class Processor(ABC, Generic[T]):
    """Pure per-record logic with optional keyed state of type ``T`` per input partition."""

    #: Codec for keyed state (None: the processor keeps no state).
    state_codec: StateCodec[T] | None = None
    #: How often (wall-clock seconds) ``punctuate`` runs; None disables it.
    punctuate_interval_s: float | None = None
    #: Upper bound on the records of one batch whatever the configured batch size (for
    #: processors whose records are large in memory, e.g. 300-feature vectors).
    max_batch: int | None = None
    #: After a batch's first record, wait this long (seconds) for more before committing;
    #: None takes the service setting. Off the latency path a longer wait means fewer,
    #: larger transactions (and, for the trainer, fewer history writes).
    batch_linger_s: float | None = None
    #: Read the partitions of the inputs ``event_times`` names in step by data time: none more
    #: than this far ahead of the slowest (see :mod:`gridstream.bus.alignment`); None: as fetched.
    align_drift_ms: int | None = None

    @abstractmethod
    def inputs(self) -> Mapping[str, type[Message]]:
        """Input topic name -> protobuf message type."""

    @abstractmethod
    def process(self, record: InRecord, state: StateView[T]) -> Iterable[OutRecord]:
        """Outputs for one record. Raise gridstream.errors.ValidationError to dead-letter it."""

    def punctuate(self, now_ms: int, states: Mapping[int, StateView[T]]) -> Iterable[OutRecord]:
        """Time-driven outputs (e.g. resolving alerts); runs inside a transaction."""
        return ()

    def event_times(self) -> Mapping[str, Callable[[Message], int]]:
        """Input topic -> the event time (ms) of one of its decoded records, for the inputs whose
        partitions are read in step (with ``align_drift_ms``); empty: none is."""
        return {}

    def internal_topics(self) -> tuple[str, ...]:
        """Internal output topics the runner creates at start if missing (with the state
        changelog's partitions and replication), so they exist however the runner was built."""
        return ()

    def on_assigned(self, partitions: list[int]) -> None:
        """Partitions (of the first input topic) were assigned and their state restored."""

    def on_revoked(self, partitions: list[int]) -> None:
        """Partitions were revoked; their state is dropped by the runner."""
