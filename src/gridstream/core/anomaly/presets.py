"""The one parameter set used for every series (tuned on NAB's development files)."""

from __future__ import annotations

from typing import Any

from gridstream.core.anomaly.ensemble import EnsembleDetector

DEFAULT_PARAMS: dict[str, Any] = {
    "zscore": {"windows": [96, 672], "min_history": 24, "z_half": 4.0},
    "surprise": {"error_window": 672, "min_history": 24, "z_half": 4.0},
    "alarm_level": 0.6,
    "refractory": 600,
    "damping": 0.5,
}


def default_detector() -> EnsembleDetector:
    """A fresh detector with the default parameters."""
    return EnsembleDetector(**DEFAULT_PARAMS)
