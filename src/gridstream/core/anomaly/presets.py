"""The one parameter set used for every series (chosen on NAB's 18 development files).

Few, general parameters: robust z of the value over a day and a week of 15-min readings and
of the seasonal-naive error (``z_half`` 12: a z of 12 scores 0.5, so only strong point
evidence competes with regime shifts), the relative-entropy regime-shift component with
NAB's published window (52) and bin count (5), and peak-only alarm suppression: a score is
kept only when it tops every score of the last 1000 readings, else it is halved, so one
incident raises one alarm. Nothing is tuned per file or per series.
"""

from __future__ import annotations

from typing import Any

from gridstream.core.anomaly.ensemble import EnsembleDetector

DEFAULT_PARAMS: dict[str, Any] = {
    "zscore": {"windows": [96, 672], "min_history": 24, "z_half": 12.0},
    "surprise": {"error_window": 672, "min_history": 24, "z_half": 12.0},
    "entropy": {"window": 52, "bins": 5},
    "refractory": 0,
    "damping": 0.5,
    "peak_window": 1000,
}


def default_detector() -> EnsembleDetector:
    """A fresh detector with the default parameters."""
    return EnsembleDetector(**DEFAULT_PARAMS)
