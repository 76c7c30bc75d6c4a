"""Forecast accuracy metrics: MAE, MAPE, pinball loss, interval coverage."""

from __future__ import annotations

import numpy as np

QUANTILES = (0.1, 0.5, 0.9)


def mae(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute error over pairs where both are known."""
    ok = np.isfinite(actual) & np.isfinite(predicted)
    return float(np.mean(np.abs(predicted[ok] - actual[ok]))) if ok.any() else float("nan")


def mape(actual: np.ndarray, predicted: np.ndarray, floor: float = 1.0) -> float:
    """Mean absolute percentage error (%) over actuals with ``|actual| >= floor``."""
    ok = np.isfinite(actual) & np.isfinite(predicted) & (np.abs(actual) >= floor)
    if not ok.any():
        return float("nan")
    return float(np.mean(np.abs(predicted[ok] - actual[ok]) / np.abs(actual[ok])) * 100.0)


def pinball(
    actual: np.ndarray, quantiles: np.ndarray, levels: tuple[float, ...] = QUANTILES
) -> float:
    """Mean pinball (quantile) loss over ``levels``; ``quantiles`` has one column per level.

    For a point forecast pass the same column for every level (the loss is then MAE / 2).
    """
    ok = np.isfinite(actual) & np.isfinite(quantiles).all(axis=1)
    if not ok.any():
        return float("nan")
    losses = []
    for j, level in enumerate(levels):
        diff = actual[ok] - quantiles[ok, j]
        losses.append(np.mean(np.maximum(level * diff, (level - 1.0) * diff)))
    return float(np.mean(losses))


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share (0..1) of actuals inside ``[lower, upper]``."""
    ok = np.isfinite(actual) & np.isfinite(lower) & np.isfinite(upper)
    if not ok.any():
        return float("nan")
    return float(np.mean((actual[ok] >= lower[ok]) & (actual[ok] <= upper[ok])))
