"""The alert engine's inputs merged in event-time order, whatever order they arrive in.

One engine (one partition) reads several topics, and one anomalies partition carries many
series that lag each other: the detector judges a reading once its forecast is there, so
after a kill one series' verdicts can trail another's by days of data. Kafka keeps order only
within one series of one topic partition. Records are therefore held here and released in
``(event time, input rank, key, offset)`` order once every *awaited stream* has reached them,
so the engine sees the same sequence however the series and topics interleave, and after a
crash (the held records are saved in state).

A stream is one series of one dense input (``anomalies:ALL/WIND_ACTUAL``; readings too when
the engine consumes them): every series reports every 15 min. Sparse inputs (system events,
operator commands) are held and ordered the same way but not awaited: an idle one would hold
everything back. A stream that lags the newest by more than :data:`MERGE_GRACE_MS` of data
is not waited for any longer, and the records released past it name it. The caller may also
move on without idle streams (live clock mode). A record older than the merge's frontier
(its stream lagged past the grace) is *late*: it is applied at once, and says so.

A stream is awaited from its first record on, so at the start of a partition the merge holds
everything until its records span ``hold_ms`` of data (the alert engine's startup hold, 12 h
in event-clock mode): a series whose first verdict comes hours after the others' (each
series' first verdict waits for its first forecast, and a kill at the start delays some
more than others) is then awaited from the start, not late. Known gap: a series whose
first record arrives after the partition released past it (a new feed, or one that lagged
more than the hold at the start) is late until it catches up.

Held records live in hourly blocks (:class:`HeldBlock`, one state key each) so that one
record changes one small block, not the whole backlog; :class:`EventMerge` keeps the clocks
and which blocks exist, saved with the engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

HOUR_MS = 3_600_000
#: how far (event time) a stream may lag the newest before the merge moves on without it:
#: the detector's join grace (216 h by default) plus a day
MERGE_GRACE_MS = 240 * HOUR_MS
#: the data time one block of held records covers
BLOCK_MS = HOUR_MS


def block_of(ts_ms: int) -> int:
    """The start of the block holding a record of that time."""
    return ts_ms - ts_ms % BLOCK_MS


@dataclass(frozen=True, order=True)
class Held:
    """One input record waiting for its turn: ordered by time, input rank, key, offset."""

    ts_ms: int
    rank: int
    key: str
    offset: int
    topic: str = field(compare=False)
    payload: str = field(compare=False)  # the record's value, base64 protobuf

    def to_list(self) -> list[object]:
        return [self.ts_ms, self.rank, self.key, self.offset, self.topic, self.payload]

    @classmethod
    def from_list(cls, row: list[Any]) -> Held:
        ts, rank, key, offset, topic, payload = row
        return cls(int(ts), int(rank), str(key), int(offset), str(topic), str(payload))


@dataclass
class HeldBlock:
    """The held records of one hour of data (one state key)."""

    start_ms: int
    records: list[Held] = field(default_factory=list)

    def to_doc(self) -> dict[str, Any]:
        return {"held": self.start_ms, "records": [h.to_list() for h in self.records]}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> HeldBlock:
        return cls(int(doc["held"]), [Held.from_list(r) for r in doc["records"]])


@dataclass(frozen=True)
class Frontier:
    """How far the merge may release, and the streams it stopped waiting for."""

    ms: int
    lagging: tuple[str, ...] = ()


@dataclass
class EventMerge:
    """The clocks of one engine's merge: every awaited stream's watermark (its newest event
    time), the newest sparse record, how far it released, and which blocks hold records."""

    watermarks: dict[str, int] = field(default_factory=dict)
    sparse_ms: int = -1
    released_ms: int = -1
    blocks: set[int] = field(default_factory=set)
    first_ms: int = -1  # the oldest record of an awaited stream seen (for the startup hold)

    def observe(self, stream: str | None, ts_ms: int) -> None:
        """A record arrived (``stream`` None: a sparse input)."""
        if stream is None:
            self.sparse_ms = max(self.sparse_ms, ts_ms)
        else:
            self.watermarks[stream] = max(ts_ms, self.watermarks.get(stream, ts_ms))
            self.first_ms = ts_ms if self.first_ms < 0 else min(self.first_ms, ts_ms)

    def holding(self, hold_ms: int) -> bool:
        """Still in the startup hold: nothing released yet and the records seen span less
        than ``hold_ms`` of data."""
        if hold_ms <= 0 or self.released_ms >= 0 or not self.watermarks:
            return False
        return max(self.watermarks.values()) - self.first_ms < hold_ms

    def is_late(self, ts_ms: int) -> bool:
        """Older than what was released already: it cannot take its place any more."""
        return ts_ms < self.released_ms

    def frontier(self, skip: Iterable[str] = (), hold_ms: int = 0) -> Frontier:
        """How far records may be released; ``skip``: streams not to wait for (idle);
        ``hold_ms``: the startup hold (see the module docstring)."""
        if self.holding(hold_ms):
            return Frontier(self.released_ms)
        skipped = set(skip)
        waiting = [t for s, t in self.watermarks.items() if s not in skipped]
        if not waiting:  # only sparse records, or every stream idle: nothing to wait for
            newest = max([self.sparse_ms, *self.watermarks.values()])
            return Frontier(max(newest, self.released_ms))
        newest = max(self.watermarks.values())
        front = min(waiting)
        lagging: tuple[str, ...] = ()
        if front < newest - MERGE_GRACE_MS:
            front = newest - MERGE_GRACE_MS
            lagging = tuple(
                sorted(s for s, t in self.watermarks.items() if s not in skipped and t < front)
            )
        return Frontier(max(front, self.released_ms), lagging)

    def advance(self, frontier: Frontier) -> None:
        """Records up to the frontier were released. Before any awaited stream was seen
        (only commands or events so far) the frontier does not move: the first streams'
        records are not late for that."""
        if self.watermarks:
            self.released_ms = max(self.released_ms, frontier.ms)

    def due_blocks(self, frontier_ms: int) -> list[int]:
        """The blocks that may hold records due at ``frontier_ms``, oldest first."""
        return sorted(b for b in self.blocks if b <= frontier_ms)

    def to_doc(self) -> dict[str, Any]:
        return {
            "watermarks": self.watermarks,
            "sparse_ms": self.sparse_ms,
            "released_ms": self.released_ms,
            "blocks": sorted(self.blocks),
            "first_ms": self.first_ms,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> EventMerge:
        return cls(
            {str(k): int(v) for k, v in doc["watermarks"].items()},
            int(doc["sparse_ms"]),
            int(doc["released_ms"]),
            {int(b) for b in doc["blocks"]},
            int(doc.get("first_ms", -1)),
        )


def split_due(block: HeldBlock, frontier_ms: int) -> tuple[list[Held], HeldBlock]:
    """The records of a block due at the frontier, and the block that stays held."""
    due = [h for h in block.records if h.ts_ms <= frontier_ms]
    if not due:
        return [], block
    return due, HeldBlock(block.start_ms, [h for h in block.records if h.ts_ms > frontier_ms])
