"""The 96 ``steps`` of many ``Forecast`` messages encoded at once, with numpy.

Adding the steps one by one (``msg.steps.add(...)``, 96 per forecast) cost the forecaster
as much as its models once these were compiled (~150 us per forecast). Every step of a
trajectory has the same layout, so the wire bytes of all steps of a batch of trajectories
are one ``uint8`` array filled column-wise; each message then parses its row
(``MergeFromString``, a few microseconds in upb). The message is the same as if its steps had
been added one by one: a test compares both, and the producer serialises the message as usual.

Layout of step ``k`` (protobuf wire format, ``ForecastStep`` inside field 8 of ``Forecast``):
``0x42 len | 0x08 target_time_ms (varint) | 0x10 horizon_minutes (varint) | 0x19 p10 | 0x21 p50 |
0x29 p90`` (doubles, 8 bytes little-endian). Target times between 2**35 and 2**42 ms (1971 to
2109) take exactly 6 varint bytes, so every row has the same length; other times return None
and the caller adds the steps one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from gridstream.core.forecasting import Trajectory

_TIME_BYTES = 6
_LOWEST, _HIGHEST = 1 << 35, 1 << 42


def _varint(value: int) -> list[int]:
    out = []
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return out


@dataclass(frozen=True)
class _Layout:
    template: np.ndarray  # one row with the tags, lengths and horizons filled in
    time_at: np.ndarray  # (steps,) offset of each step's target time
    quantile_at: np.ndarray  # (3, steps * 8) byte offsets of p10, p50, p90


@lru_cache(maxsize=4)
def _layout(minutes: tuple[int, ...]) -> _Layout:
    row: list[int] = []
    time_at: list[int] = []
    quantile_at: list[list[int]] = [[], [], []]
    for horizon in minutes:
        horizon_bytes = _varint(horizon)
        body = 1 + _TIME_BYTES + 1 + len(horizon_bytes) + 3 * 9
        row += [0x42, body, 0x08]
        time_at.append(len(row))
        row += [0] * _TIME_BYTES + [0x10] + horizon_bytes
        for q, tag in enumerate((0x19, 0x21, 0x29)):
            row.append(tag)
            quantile_at[q] += range(len(row), len(row) + 8)
            row += [0] * 8
    return _Layout(
        np.array(row, dtype=np.uint8),
        np.array(time_at, dtype=np.int64),
        np.array(quantile_at, dtype=np.int64),
    )


def encode_steps(trajectories: Sequence[Trajectory], minutes: Sequence[int]) -> list[bytes] | None:
    """Wire bytes of the ``steps`` field of each trajectory's ``Forecast`` (step ``k`` with
    horizon ``minutes[k]``), or None if a trajectory's length or a target time does not fit
    the fixed layout."""
    steps = len(minutes)
    if not trajectories or any(len(t.p50) != steps for t in trajectories):
        return None
    targets = np.stack([t.target_ts_ms for t in trajectories])
    if targets.min() < _LOWEST or targets.max() >= _HIGHEST:
        return None
    layout = _layout(tuple(int(m) for m in minutes))
    n = len(trajectories)
    rows = np.tile(layout.template, (n, 1))
    for j in range(_TIME_BYTES):
        part = (targets >> (7 * j)) & 0x7F
        rows[:, layout.time_at + j] = part | (0x80 if j < _TIME_BYTES - 1 else 0)
    for q, name in enumerate(("p10", "p50", "p90")):
        values = np.ascontiguousarray(
            np.stack([getattr(t, name) for t in trajectories]), dtype="<f8"
        )
        rows[:, layout.quantile_at[q]] = values.view(np.uint8).reshape(n, steps * 8)
    return [row.tobytes() for row in rows]
