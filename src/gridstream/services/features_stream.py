"""Streaming features of a region's series for smart-ml-preprocessor (pure logic, no Kafka).

Each series keeps a :class:`FeatureSeries`: its :class:`SeriesState` window and, while its
latest reading waits for the region's demand and wind of the same slot, that reading's flags.
Cross-series features (net demand, wind share) need demand and wind *at the reading's slot*,
so a reading is released once both peers have that slot (or have moved past it: a gap), or
when the series' own next reading arrives. Released readings are snapshotted (their window
and peer values) and featurised together at the end of a Kafka batch by one call to the
shared :func:`window_features` — the very code the trainer's :func:`batch_features` runs —
which is ~50x faster than one :func:`features_from_state` call per reading.

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
from gridstream.schemas import common_pb2, readings_pb2

_MAGIC = b"GFS1"
_HEAD = struct.Struct("<4sII")  # magic, state length, flags length (0xFFFFFFFF: none pending)
_NONE = 0xFFFFFFFF
PEERS = (DEMAND_FIELD, WIND_FIELD)


@dataclass
class FeatureSeries:
    """Keyed state of one series: its window and the flags of a reading not yet released."""

    state: SeriesState = field(default_factory=SeriesState)
    pending: tuple[str, ...] | None = None

    def to_bytes(self) -> bytes:
        body = self.state.to_bytes()
        flags = b"" if self.pending is None else "\n".join(self.pending).encode()
        size = _NONE if self.pending is None else len(flags)
        return _HEAD.pack(_MAGIC, len(body), size) + body + flags

    @classmethod
    def from_bytes(cls, data: bytes) -> FeatureSeries:
        if len(data) < _HEAD.size:
            raise StateError("feature series state too short: drop it and rebuild")
        magic, body_len, flags_len = _HEAD.unpack_from(data)
        if magic != _MAGIC:
            raise StateError("feature series state has an unknown layout: drop it and rebuild")
        start = _HEAD.size
        state = SeriesState.from_bytes(data[start : start + body_len])
        if flags_len == _NONE:
            return cls(state, None)
        text = data[start + body_len : start + body_len + flags_len].decode()
        return cls(state, tuple(text.split("\n")) if text else ())


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
    """Whether a peer series has the slot ``ts_ms`` or has moved past it (it will not come)."""
    if peer is None or peer.last_ts_ms is None:
        return False
    return peer.last_ts_ms > ts_ms or not math.isnan(peer.value_at(ts_ms))


def snapshot(
    series_id: str, entry: FeatureSeries, peers: dict[str, SeriesState | None]
) -> Released:
    """Freeze the series' latest slot with its peers' values at that slot."""
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
        entry.pending or (),
        entry.state.window(),
        at(DEMAND_FIELD),
        at(WIND_FIELD),
    )


def featurise(items: list[Released]) -> list[dict[str, float]]:
    """Features of every released reading (empty for value-only ones), NaN entries dropped."""
    rows = [i for i, r in enumerate(items) if r.window is not None]
    out: list[dict[str, float]] = [{} for _ in items]
    if not rows:
        return out
    windows = np.stack([items[i].window for i in rows])  # type: ignore[misc]
    cols = window_features(windows)
    cols.update(
        cross_features(
            np.array([items[i].demand for i in rows]), np.array([items[i].wind for i in rows])
        )
    )
    names = feature_names()
    labels = np.array(names)
    matrix = np.column_stack([np.asarray(cols[n], dtype=np.float64) for n in names])
    for j, i in enumerate(rows):
        keep = ~np.isnan(matrix[j])
        out[i] = dict(zip(labels[keep].tolist(), matrix[j][keep].tolist(), strict=True))
    return out


def slot_of(ts_ms: int) -> int:
    return ts_ms // SLOT_MS
