"""Robust z-scores over several trailing windows (median and inter-quartile range).

The median and IQR ignore the very outliers we are looking for, so one spike does not
inflate the scale that judges the next one. Several window lengths adapt to both fast and
slow series: the reported z is the smallest over the windows, so a reading must look odd
against short and long context alike (a level shift stays odd until both have adapted).
"""

from __future__ import annotations

import math
from typing import Any

from gridstream.core.anomaly.base import Detector
from gridstream.core.anomaly.rolling import SortedWindow

IQR_TO_SIGMA = 1.349


def z_to_score(z: float, z_half: float) -> float:
    """Map a non-negative z onto ``[0, 1)``: ``z_half`` maps to 0.5."""
    if not math.isfinite(z):
        return 1.0 if z > 0 else 0.0
    z = max(z, 0.0)
    return z / (z + z_half)


def robust_scale(window: SortedWindow, rel_floor: float, abs_floor: float) -> float:
    """IQR-based sigma, floored by a share of the window's spread (flat series stay sane)."""
    iqr = (window.quantile(0.75) - window.quantile(0.25)) / IQR_TO_SIGMA
    spread = window.quantile(1.0) - window.quantile(0.0)
    return max(iqr, rel_floor * spread, abs_floor)


class RobustZScoreDetector(Detector):
    """Score a value by its robust z against trailing windows of raw values."""

    kind = "robust_zscore"

    def __init__(
        self,
        windows: tuple[int, ...] | list[int] = (96, 672),
        min_history: int = 24,
        z_half: float = 4.0,
        rel_floor: float = 0.02,
        abs_floor: float = 1e-6,
    ) -> None:
        self.windows = tuple(int(w) for w in windows)
        self.min_history = min_history
        self.z_half = z_half
        self.rel_floor = rel_floor
        self.abs_floor = abs_floor
        self._wins = [SortedWindow(w) for w in self.windows]
        self.last_z = 0.0
        self.last_center = math.nan

    def z_of(self, value: float) -> tuple[float, float]:
        """``(z, center)`` of ``value`` against the history (``z`` is 0 while warming up)."""
        longest = max(self._wins, key=len)
        if len(longest) < self.min_history:
            return 0.0, math.nan
        best_z, center = math.inf, math.nan
        for win in self._wins:
            if len(win) < self.min_history:
                continue
            med = win.median()
            z = abs(value - med) / robust_scale(win, self.rel_floor, self.abs_floor)
            if z < best_z:
                best_z, center = z, med
        return best_z, center

    def score_one(self, ts_ms: int, value: float) -> float:
        z, center = self.z_of(value)
        for win in self._wins:
            win.push(value)
        self.last_z, self.last_center = z, center
        return z_to_score(z, self.z_half)

    def params(self) -> dict[str, Any]:
        return {
            "windows": list(self.windows),
            "min_history": self.min_history,
            "z_half": self.z_half,
            "rel_floor": self.rel_floor,
            "abs_floor": self.abs_floor,
        }

    def get_state(self) -> dict[str, Any]:
        longest = max(self._wins, key=lambda w: w.size)
        return {"history": longest.values(), "last_z": self.last_z}

    def set_state(self, state: dict[str, Any]) -> None:
        history = [float(v) for v in state["history"]]
        self._wins = [SortedWindow(w, history) for w in self.windows]
        self.last_z = float(state["last_z"])
