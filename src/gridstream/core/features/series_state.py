"""Per-series keyed state for streaming features: a bounded ring of recent 15-minute values.

The state is what a stream processor keeps per series key and writes to its changelog: the
last ``WINDOW`` slots (one week plus one) ending at the latest slot seen, NaN where no reading
arrived. It serialises to a small fixed-layout byte string (no pickle).
"""

from __future__ import annotations

import struct

import numpy as np

from gridstream.core.features.grid import SLOT_MS, SLOTS_PER_WEEK
from gridstream.errors import GridstreamError

WINDOW = SLOTS_PER_WEEK + 1
"""Slots kept per series: enough for a one-week lag and a one-week rolling window."""

_MAGIC = b"GSS1"
_HEADER = struct.Struct("<4sIq")  # magic, window length, latest slot index


class StateError(GridstreamError):
    """Serialised series state is corrupt or from another layout; rebuild it from history."""


class SeriesState:
    """The recent history of one series on the 15-minute grid.

    ``update(ts_ms, value)`` moves the window forward to the slot of ``ts_ms`` (slots skipped
    become NaN, i.e. gaps) or, for a late reading still inside the window, fills its slot.
    Readings older than the window are ignored and reported by returning ``False``.
    """

    __slots__ = ("_last_slot", "_values")

    def __init__(self, window: int = WINDOW) -> None:
        self._values = np.full(window, np.nan, dtype=np.float64)
        self._last_slot = -1

    @property
    def last_ts_ms(self) -> int | None:
        """Start of the latest slot seen, or None for an empty state."""
        return None if self._last_slot < 0 else self._last_slot * SLOT_MS

    def update(self, ts_ms: int, value: float) -> bool:
        """Record ``value`` at ``ts_ms`` (aligned down to its slot); False if too old to keep."""
        slot = ts_ms // SLOT_MS
        values = self._values
        if self._last_slot < 0:
            self._last_slot = slot
        advance = slot - self._last_slot
        if advance > 0:
            if advance >= len(values):
                values[:] = np.nan
            else:
                values[:-advance] = values[advance:]
                values[-advance:] = np.nan
            self._last_slot = slot
            values[-1] = value
            return True
        position = len(values) - 1 + advance
        if position < 0:
            return False
        values[position] = value
        return True

    def window(self) -> np.ndarray:
        """A copy of the kept values, oldest first, the last one at the latest slot."""
        return self._values.copy()

    def value_at(self, ts_ms: int) -> float:
        """The value recorded for the slot of ``ts_ms``, NaN when unknown or out of the window."""
        if self._last_slot < 0:
            return float("nan")
        position = len(self._values) - 1 + (ts_ms // SLOT_MS - self._last_slot)
        if position < 0 or position >= len(self._values):
            return float("nan")
        return float(self._values[position])

    def to_bytes(self) -> bytes:
        """The state as bytes for a changelog topic or a state store."""
        header = _HEADER.pack(_MAGIC, len(self._values), self._last_slot)
        return header + self._values.astype("<f8").tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> SeriesState:
        """Rebuild a state written by :meth:`to_bytes`; raises StateError if it is not one."""
        if len(data) < _HEADER.size:
            raise StateError("series state too short: drop it and rebuild from history")
        magic, window, last_slot = _HEADER.unpack_from(data)
        if magic != _MAGIC or len(data) != _HEADER.size + 8 * window:
            raise StateError("series state has an unknown layout: drop it and rebuild from history")
        state = cls(window)
        state._values = np.frombuffer(data, dtype="<f8", offset=_HEADER.size).astype(np.float64)
        state._last_slot = int(last_slot)
        return state
