"""Per-row NAB weights: where each row sits relative to the anomaly windows.

A detection inside a window earns the scaled sigmoid of its relative position (the earlier,
the closer to ``tp_weight``); a detection outside windows costs ``fp_weight`` times the
sigmoid of its distance past the previous window (a full -1 before any window, or far after).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gridstream.core.nab.profiles import CostProfile
from gridstream.core.nab.windows import Window, probation_length

NO_WINDOW = -1


def scaled_sigmoid(position: float) -> float:
    """NAB's scaled sigmoid: 1 well before a window's end, -1 far after it (>3 widths)."""
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


@dataclass(frozen=True)
class RowWeights:
    """For one file: each scored row's window id (or ``NO_WINDOW``) and unit sweep score.

    ``unit_score`` is the sigmoid value before cost weights: inside a window it is already
    normalised so the earliest row is 1; outside it is the (negative) false-positive factor.
    Probationary rows are removed; ``n_windows`` counts the windows that remain scorable.
    """

    window_id: npt.NDArray[np.int64]
    unit_score: npt.NDArray[np.float64]
    keep: npt.NDArray[np.bool_]
    n_windows: int

    def weighted(self, profile: CostProfile) -> npt.NDArray[np.float64]:
        """The row's score if detected, under ``profile`` (NAB's ``S(t)`` columns)."""
        inside = self.window_id != NO_WINDOW
        return np.where(
            inside, self.unit_score * profile.tp_weight, self.unit_score * profile.fp_weight
        )


def row_weights(n_rows: int, windows: Sequence[Window]) -> RowWeights:
    """Compute the NAB sweep weights of every row of a file of ``n_rows`` rows."""
    window_id = np.full(n_rows, NO_WINDOW, dtype=np.int64)
    unit = np.empty(n_rows, dtype=np.float64)
    tp_norm = scaled_sigmoid(-1.0)
    prev_end: int | None = None
    prev_width = 0
    cursor = 0
    for k, win in enumerate([*list(windows), Window(n_rows, n_rows)]):
        # rows before this window: false-positive territory
        for i in range(cursor, min(win.start, n_rows)):
            if prev_end is None:
                unit[i] = -1.0
            else:
                unit[i] = scaled_sigmoid(abs(prev_end - i) / float(max(prev_width - 1, 1)))
        if win.start >= n_rows:
            break
        width = win.width
        for i in range(win.start, win.end + 1):
            unit[i] = scaled_sigmoid(-(win.end - i + 1) / float(width)) / tp_norm
            window_id[i] = k
        prev_end, prev_width, cursor = win.end, width, win.end + 1
    keep = np.zeros(n_rows, dtype=np.bool_)
    keep[probation_length(n_rows) :] = True
    n_windows = len({int(w) for w in window_id[keep] if w != NO_WINDOW})
    return RowWeights(window_id=window_id, unit_score=unit, keep=keep, n_windows=n_windows)
