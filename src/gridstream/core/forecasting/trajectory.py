"""A 24-hour forecast trajectory: 96 quarter-hour steps of P10/P50/P90."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gridstream.core.features.grid import HORIZON_STEPS, SLOT_MS

MODEL_KIND_LIGHTGBM = "lightgbm-quantile"
MODEL_KIND_SEASONAL_NAIVE = "seasonal-naive"


@dataclass(frozen=True)
class Trajectory:
    """Forecast issued at ``issue_ts_ms`` for the next ``len(p50)`` slots (non-crossing)."""

    issue_ts_ms: int
    p10: np.ndarray
    p50: np.ndarray
    p90: np.ndarray
    model_version: str
    model_kind: str

    @property
    def target_ts_ms(self) -> np.ndarray:
        """UTC epoch milliseconds of each step's target time."""
        steps = np.arange(1, len(self.p50) + 1, dtype=np.int64)
        return self.issue_ts_ms + steps * SLOT_MS

    @property
    def horizon_minutes(self) -> np.ndarray:
        """Lead time of each step in minutes (15, 30, ... 1440)."""
        return np.arange(1, len(self.p50) + 1, dtype=np.int64) * (SLOT_MS // 60_000)


def full_horizon() -> np.ndarray:
    """Leads 1..96 (slots) as an int array."""
    return np.arange(1, HORIZON_STEPS + 1, dtype=np.int64)
