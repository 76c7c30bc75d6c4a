"""Per-lead statistics of held-out residuals: the scales that put every lead's residual on
one footing for training (:func:`lead_scales`) and the factors that stretch the P10-P90 band
to its coverage target (:func:`band_factors`, conformalised quantile regression).
"""

from __future__ import annotations

import numpy as np

from gridstream.core.features.grid import HORIZON_STEPS


def lead_scales(residual: np.ndarray, leads: np.ndarray) -> np.ndarray:
    """Mean absolute residual per lead (index = lead, 0 unused), never below a tiny floor;
    leads without samples (between anchors) interpolate linearly."""
    sums = np.bincount(leads, weights=np.abs(residual), minlength=HORIZON_STEPS + 1)
    counts = np.bincount(leads, minlength=HORIZON_STEPS + 1)
    overall = float(np.mean(np.abs(residual))) if len(residual) else 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        scales = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    seen = np.flatnonzero(np.isfinite(scales[1:])) + 1
    if len(seen):
        scales[1:] = np.interp(np.arange(1, HORIZON_STEPS + 1), seen, scales[seen])
    floor = max(overall * 1e-3, 1e-9)
    result: np.ndarray = np.maximum(np.nan_to_num(scales, nan=overall), floor)
    return result


def band_factors(
    actual: np.ndarray,
    levels: np.ndarray,
    leads: np.ndarray,
    target: float | np.ndarray = 0.8,
) -> np.ndarray:
    """Per-lead factors that make the P10–P90 band cover ``target`` of held-out actuals.

    Conformalised quantile regression, multiplicative form: for each pair the score is how
    far the actual lies outside/inside the band relative to the band's half-width on its side;
    the factor of a lead is the ``target`` quantile of its scores (``target`` is one share or
    one per lead, index = lead), smoothed over ±4 leads.
    Trees' quantiles are too narrow out of sample (the future is less like the training data
    than the training data is like itself); calibrating on data the models did not see fixes it.
    """
    targets = np.broadcast_to(np.asarray(target, dtype=np.float64), (HORIZON_STEPS + 1,))
    with np.errstate(divide="ignore", invalid="ignore"):
        below = (levels[:, 1] - actual) / np.maximum(levels[:, 1] - levels[:, 0], 1e-9)
        above = (actual - levels[:, 1]) / np.maximum(levels[:, 2] - levels[:, 1], 1e-9)
    score = np.maximum(below, above)
    ok = np.isfinite(score)
    raw = np.ones(HORIZON_STEPS + 1)
    for lead in range(1, HORIZON_STEPS + 1):
        mine = score[ok & (leads == lead)]
        if len(mine) >= 20:
            raw[lead] = float(np.quantile(mine, targets[lead]))
    kernel = np.ones(9) / 9.0
    padded = np.pad(raw[1:], 4, mode="edge")
    smooth = np.convolve(padded, kernel, mode="valid")
    factors = np.concatenate([[1.0], np.clip(smooth, 0.25, 4.0)])
    return factors
