"""The one parameter set used for every series (tuned on NAB's development files)."""

from __future__ import annotations

from typing import Any

from gridstream.core.anomaly.ensemble import EnsembleDetector

DEFAULT_PARAMS: dict[str, Any] = {
    "zscore": {"windows": [96, 672], "min_history": 24, "z_half": 12.0},
    "surprise": {"error_window": 672, "min_history": 24, "z_half": 12.0},
    "entropy": {"window": 52, "bins": 5},
    "refractory": 0,
    "damping": 0.0,
    "peak_window": 1000,
}


def default_detector() -> EnsembleDetector:
    """A fresh detector with the default parameters."""
    return EnsembleDetector(**DEFAULT_PARAMS)
