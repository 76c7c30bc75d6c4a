"""Streaming features of a region's series for smart-ml-preprocessor (pure logic, no Kafka).

Each series keeps a :class:`FeatureSeries`: its :class:`SeriesState` window, the flags of its
head reading while that waits for the region's demand and wind of the same slot, and a
*backlog* of the readings that arrived after the head, in arrival order, not yet applied.
Cross-series features (net demand, wind share) need demand and wind *at the reading's slot*,
so a head is released only once both peers have that slot (or have moved past it: a gap);
then the next backlog reading is applied and becomes the head. The series' window is
advanced in its own order whatever the interleaving of the region's series, so the features
are the same in every run over the same data (the repartition topic interleaves partitions
differently after a restart) — what ``gridstream verify`` checks bit for bit. Two escape
hatches keep a dead peer feed from stalling a series: a head is released without its peers
once the backlog holds more than ``MAX_BACKLOG`` readings (four weeks of the series' own
data; a week, ``MAX_BACKLOG_UNSEEN``, while a peer has never been seen at all), and, with the
live clock only, once its reading arrived more than ``MAX_WAIT_MS`` of wall time ago. Its
vector's flags then say which (``peers_missing=backlog|wall_clock``). The bound is long
because a peer that is only slow must be waited for: a killed instance's partitions are
handed over after the group's session timeout, which a fast replay turns into days of data
(10 s at 40,000x is almost five days) while the other partitions' series run on. A region
whose demand or wind is not ingested at all therefore gets its features a week late in a
replay (``MAX_WAIT_MS`` late live): ingest both (the default). A backlog that only reflects
the order partitions were fetched in (after a restart) stays far below that: the service
reads the clean readings' partitions in step, within a day of data (see
:mod:`gridstream.bus.alignment`).
Released readings are snapshotted (their window and peer values) and featurised together at
the end of a Kafka batch by one call to the shared :func:`window_features` — the very code
the trainer's :func:`batch_features` runs — ~50x faster than one call per reading.

Readings older than the series' latest slot (late corrections) are passed on with their value
and flags but no features: features describe the head of a series, not its past.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

import numpy as np

from gridstream.core.features import SLOT_MS, SeriesState, StateError, feature_names
from gridstream.core.features.pipeline import DEMAND_FIELD, WIND_FIELD, cross_features
from gridstream.core.features.window_features import window_features
from gridstream.schemas import common_pb2, features_pb2, readings_pb2

_MAGIC = b"GFS2"
_OLD_MAGIC = b"GFS1"
# magic, state length, flags length (0xFFFFFFFF: none pending), head arrival, backlog size
_HEAD = struct.Struct("<4sIIqI")
_OLD_HEAD = struct.Struct("<4sII")
_ENTRY = struct.Struct("<qdq?I")  # ts, value, arrival (wall ms), late, flags length
_NONE = 0xFFFFFFFF
PEERS = (DEMAND_FIELD, WIND_FIELD)
MAX_BACKLOG = 28 * 96  # a slow peer is waited for four weeks of the series' own data
MAX_BACKLOG_UNSEEN = 7 * 96  # a peer never seen at all (not ingested) a week
MAX_WAIT_MS = 300_000


@dataclass(frozen=True)
class Arrival:
    """A reading received after the series' head, kept until the head is released."""

    ts_ms: int
    value: float
    arrived_ms: int
    late: bool  # older than the latest reading received before it: fills a past slot
    flags: tuple[str, ...]


@dataclass
class FeatureSeries:
    """Keyed state of one series: its window, the head's flags while it waits for its peers
    (with the wall time it arrived) and the readings received after it."""

    state: SeriesState = field(default_factory=SeriesState)
    pending: tuple[str, ...] | None = None
    pending_since_ms: int = 0
    backlog: list[Arrival] = field(default_factory=list)

    @property
    def latest_received_ms(self) -> int | None:
        """The newest slot received (applied or waiting in the backlog)."""
        heads = [a.ts_ms for a in self.backlog if not a.late]
        last = self.state.last_ts_ms
        return max([*heads, last]) if last is not None else (max(heads) if heads else None)

    def overdue(self, now_ms: int, max_wait_ms: int | None, peers_seen: bool) -> str | None:
        """Why the head may leave without its peers (a dead peer feed), or None: ``backlog``
        once more than four weeks of the series' own readings queue behind it (a week if a
        peer was never seen; decided by the data), ``wall_clock`` once it arrived more than
        ``max_wait_ms`` of wall time ago (only given in live mode: a replay never depends on
        how fast records arrive)."""
        if len(self.backlog) > (MAX_BACKLOG if peers_seen else MAX_BACKLOG_UNSEEN):
            return "backlog"
        if max_wait_ms is not None and now_ms - self.pending_since_ms > max_wait_ms:
            return "wall_clock"
        return None

    def to_bytes(self) -> bytes:
        body = self.state.to_bytes()
        flags = b"" if self.pending is None else _join(self.pending)
        size = _NONE if self.pending is None else len(flags)
        parts = [
            _HEAD.pack(_MAGIC, len(body), size, self.pending_since_ms, len(self.backlog)),
            body,
            flags,
        ]
        for a in self.backlog:
            text = _join(a.flags)
            parts += [_ENTRY.pack(a.ts_ms, a.value, a.arrived_ms, a.late, len(text)), text]
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> FeatureSeries:
        if len(data) < _OLD_HEAD.size:
            raise StateError("feature series state too short: drop it and rebuild")
        magic = data[:4]
        if magic == _OLD_MAGIC:
            _, body_len, flags_len = _OLD_HEAD.unpack_from(data)
            start, since, count = _OLD_HEAD.size, 0, 0
        elif magic == _MAGIC and len(data) >= _HEAD.size:
            _, body_len, flags_len, since, count = _HEAD.unpack_from(data)
            start = _HEAD.size
        else:
            raise StateError("feature series state has an unknown layout: drop it and rebuild")
        state = SeriesState.from_bytes(data[start : start + body_len])
        pos = start + body_len
        pending = None
        if flags_len != _NONE:
            pending = _split(data[pos : pos + flags_len])
            pos += flags_len
        backlog = []
        for _ in range(count):
            ts, value, arrived, late, size = _ENTRY.unpack_from(data, pos)
            pos += _ENTRY.size
            backlog.append(Arrival(ts, value, arrived, late, _split(data[pos : pos + size])))
            pos += size
        return cls(state, pending, since, backlog)


def _join(flags: tuple[str, ...]) -> bytes:
    return "\n".join(flags).encode()


def _split(data: bytes) -> tuple[str, ...]:
    text = data.decode()
    return tuple(text.split("\n")) if text else ()


def flag_strings(clean: readings_pb2.CleanReading) -> tuple[str, ...]:
    """QualityFlag enum names plus ``stuck_intervals=N`` / ``gap_before_ms=N`` when non-zero."""
    out = [common_pb2.QualityFlag.Name(f) for f in clean.flags]
    if clean.stuck_intervals:
        out.append(f"stuck_intervals={clean.stuck_intervals}")
    if clean.gap_before_ms:
        out.append(f"gap_before_ms={clean.gap_before_ms}")
    return tuple(out)


@dataclass(frozen=True)
class Released:
    """A reading ready to leave: a window snapshot (None: value and flags only)."""

    series_id: str
    region: str
    field: str
    ts_ms: int
    value: float
    flags: tuple[str, ...]
    window: np.ndarray | None
    demand: float = math.nan
    wind: float = math.nan


def peer_ready(peer: SeriesState | None, ts_ms: int) -> bool:
    """Whether a peer series has the slot ``ts_ms`` or has moved past it (it will not come).
    A peer not seen yet is waited for too (the first readings of a replay race each other)."""
    if peer is None or peer.last_ts_ms is None:
        return False
    return peer.last_ts_ms > ts_ms or not math.isnan(peer.value_at(ts_ms))


def snapshot(
    series_id: str,
    entry: FeatureSeries,
    peers: dict[str, SeriesState | None],
    peers_missing: str | None = None,
) -> Released:
    """Freeze the series' latest slot with its peers' values at that slot (``peers_missing``:
    why it leaves without waiting for them, added to its flags)."""
    ts = entry.state.last_ts_ms
    assert ts is not None
    region, _, fld = series_id.partition("/")

    def at(name: str) -> float:
        peer = peers.get(name)
        return peer.value_at(ts) if peer is not None else math.nan

    return Released(
        series_id,
        region,
        fld,
        ts,
        entry.state.value_at(ts),
        (*(entry.pending or ()), f"peers_missing={peers_missing}")
        if peers_missing
        else entry.pending or (),
        entry.state.window(),
        at(DEMAND_FIELD),
        at(WIND_FIELD),
    )


FEATURISE_CHUNK = 512
"""Readings featurised per vectorised call: large replay batches would otherwise build
(n, WINDOW) temporaries of hundreds of MB; 512 rows keep them near 30 MB at full speed."""


def featurise(items: list[Released]) -> list[bytes]:
    """Features of every released reading in ``feature_names()`` order, NaN where unknown,
    as the wire bytes of a ``FeatureVector``'s packed ``values`` (empty for value-only
    readings): merged into the vector (``MergeFromString``), they skip converting 322
    floats one by one into the message."""
    rows = [i for i, r in enumerate(items) if r.window is not None]
    out: list[bytes] = [b"" for _ in items]
    names = feature_names()
    tag = _values_tag(len(names))
    for start in range(0, len(rows), FEATURISE_CHUNK):
        chunk = rows[start : start + FEATURISE_CHUNK]
        windows = np.stack([items[i].window for i in chunk])  # type: ignore[misc]
        cols = window_features(windows)
        cols.update(
            cross_features(
                np.array([items[i].demand for i in chunk]),
                np.array([items[i].wind for i in chunk]),
            )
        )
        matrix = np.column_stack([np.asarray(cols[n], dtype=np.float64) for n in names])
        packed = np.ascontiguousarray(matrix, dtype="<f8")
        for i, values in zip(chunk, packed, strict=True):
            out[i] = tag + values.tobytes()
    return out


def _values_tag(count: int) -> bytes:
    """The key of ``FeatureVector.values`` (length-delimited) and the byte length of
    ``count`` doubles."""
    number = features_pb2.FeatureVector.DESCRIPTOR.fields_by_name["values"].number
    size, length = count * 8, bytearray()
    while size > 0x7F:
        length.append(size & 0x7F | 0x80)
        size >>= 7
    length.append(size)
    return bytes([number << 3 | 2]) + bytes(length)


def slot_of(ts_ms: int) -> int:
    return ts_ms // SLOT_MS
