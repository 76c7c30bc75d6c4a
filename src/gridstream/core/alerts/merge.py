"""The alert engine's inputs merged in event-time order, whatever order they arrive in.

One engine (one partition) reads several topics; Kafka keeps order only within one
partition of one topic. Records are held here and released in ``(event time, input rank,
offset)`` order once every *awaited* input's watermark (the newest event time seen on it)
has reached them, so the engine sees the same sequence however the topics interleave, and
after a crash (the held records are part of the engine's saved state).

Awaited inputs are the dense ones (anomalies, readings: every series reports every 15 min).
Sparse inputs (system events, operator commands) are held and ordered the same way but not
awaited: an idle one would hold everything back. An awaited input that lags the newest one
by more than the grace is not waited for any longer: the records released that way name it
(``missing``). The caller may also move on without an idle input (live clock mode).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: how far (event time) an awaited input may lag before the merge moves on without it
MERGE_GRACE_MS = 3_600_000


@dataclass(frozen=True, order=True)
class Held:
    """One input record waiting for its turn: ordered by time, input rank, offset."""

    ts_ms: int
    rank: int
    offset: int
    topic: str = field(compare=False)
    payload: str = field(compare=False)  # the record's value, base64 protobuf


@dataclass
class EventMerge:
    """Held records and the watermark of every input, for one engine."""

    watermarks: dict[str, int] = field(default_factory=dict)
    held: list[Held] = field(default_factory=list)
    released_ms: int = -1

    def add(self, record: Held) -> None:
        self.watermarks[record.topic] = max(
            record.ts_ms, self.watermarks.get(record.topic, record.ts_ms)
        )
        self.held.append(record)

    def release(
        self, awaited: list[str], moved_on: frozenset[str] = frozenset()
    ) -> tuple[list[Held], list[str]]:
        """Records now due, in order, and the awaited inputs the merge stopped waiting for
        (lagging by more than the grace). ``moved_on``: inputs not to wait for at all."""
        if not self.watermarks:
            return [], []
        waiting = [t for t in awaited if t not in moved_on]
        # the grace compares the dense inputs with each other: the sparse ones (system events,
        # commands) come from upstream services that run ahead of the detector by however long
        # the pipeline lags, which in a fast replay is many hours of data time
        dense = [self.watermarks[t] for t in waiting if t in self.watermarks]
        newest = max(dense) if dense else max(self.watermarks.values())
        if not any(t in self.watermarks for t in waiting):
            frontier = newest  # only sparse records so far: nothing to wait for
        else:
            frontier = min(self.watermarks.get(t, -1) for t in waiting)
        missing: list[str] = []
        if frontier < newest - MERGE_GRACE_MS:
            frontier = newest - MERGE_GRACE_MS
            missing = [t for t in waiting if self.watermarks.get(t, -1) < frontier]
        due = sorted(h for h in self.held if h.ts_ms <= frontier)
        if due:
            self.held = [h for h in self.held if h.ts_ms > frontier]
        self.released_ms = max(self.released_ms, frontier)
        return due, missing

    def to_doc(self) -> dict[str, Any]:
        return {
            "watermarks": self.watermarks,
            "held": [[h.ts_ms, h.rank, h.offset, h.topic, h.payload] for h in self.held],
            "released_ms": self.released_ms,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> EventMerge:
        return cls(
            {str(k): int(v) for k, v in doc["watermarks"].items()},
            [Held(int(a), int(b), int(c), str(d), str(e)) for a, b, c, d, e in doc["held"]],
            int(doc["released_ms"]),
        )
