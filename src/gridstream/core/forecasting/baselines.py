"""Reference forecasts: persistence, same time yesterday, same time last week, seasonal naive.

All read the shared features (``value``, ``prof_d1_h``, ``prof_w1_h``), so the baselines see
exactly the history the models see.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np

from gridstream.core.features.grid import HORIZON_STEPS
from gridstream.core.features.pipeline import feature_names
from gridstream.core.forecasting.trajectory import (
    MODEL_KIND_SEASONAL_NAIVE,
    Trajectory,
    non_crossing,
)

BASELINES = ("persistence", "yesterday", "last_week")
SEASONAL_NAIVE_VERSION = "seasonal-naive"
_Z90 = 1.2816  # standard normal 90 % quantile


def baseline_point(feats: np.ndarray, rows: np.ndarray, leads: np.ndarray) -> dict[str, np.ndarray]:
    """Point forecasts of the three baselines for origins ``rows`` at ``leads`` (slots);
    ``feats`` holds the pipeline features (columns of ``feature_names()``)."""
    names = feature_names()
    value = feats[rows, names.index("value")]
    index = leads.astype(np.int64) - 1
    return {
        "persistence": value,
        "yesterday": feats[rows, names.index("prof_d1_1") + index],
        "last_week": feats[rows, names.index("prof_w1_1") + index],
    }


#: the profile features' names, built once (a forecast per vector looks up 192 of them)
_WEEK_KEYS = tuple(f"prof_w1_{h}" for h in range(1, HORIZON_STEPS + 1))
_DAY_KEYS = tuple(f"prof_d1_{h}" for h in range(1, HORIZON_STEPS + 1))


def bridge_gaps(profile: np.ndarray, max_gap: int = 2) -> np.ndarray:
    """Fill runs of at most ``max_gap`` missing steps between two known ones, linearly.

    A series published every half hour (SNSP) has every other quarter-hour of its profiles
    missing; without this its forecast alternates between the profile and the latest value.
    Up to ``max_gap`` steps at either end take the nearest known value. Longer gaps stay
    missing (the caller falls back to another profile)."""
    known = np.flatnonzero(np.isfinite(profile))
    if len(known) < 2 or len(known) == len(profile):
        return profile
    out = profile.copy()
    if 0 < known[0] <= max_gap:
        out[: known[0]] = profile[known[0]]
    if 0 < len(profile) - 1 - known[-1] <= max_gap:
        out[known[-1] + 1 :] = profile[known[-1]]
    for left, right in itertools.pairwise(known):
        if 1 < right - left <= max_gap + 1:
            steps = np.arange(left + 1, right)
            weight = (steps - left) / (right - left)
            out[steps] = profile[left] + weight * (profile[right] - profile[left])
    return out


def seasonal_naive_forecast(features: Mapping[str, float], issue_ts_ms: int) -> Trajectory:
    """A 24 h trajectory without a model: same quarter-hour last week, else yesterday, else now.

    The band is ±1.28 × a robust scale (the mean absolute gap between the yesterday and
    last-week profiles, at least the recent 24 h standard deviation / 4), a rough 80 %
    interval. Forecasts are labelled ``seasonal-naive`` so consumers can tell them apart.
    """
    get = features.get
    week = bridge_gaps(np.array([get(k, np.nan) for k in _WEEK_KEYS], dtype=np.float64))
    day = bridge_gaps(np.array([get(k, np.nan) for k in _DAY_KEYS], dtype=np.float64))
    now = float(features.get("value", np.nan))
    p50 = np.where(np.isnan(week), day, week)
    p50 = np.where(np.isnan(p50), now, p50)
    gaps = np.abs(week - day)
    scale = float(np.nanmean(gaps)) if np.isfinite(gaps).any() else 0.0
    std = float(features.get("roll_std_96", np.nan))
    if np.isfinite(std):
        scale = max(scale, std / 4.0)
    band = non_crossing(p50 - _Z90 * scale, p50, p50 + _Z90 * scale)
    return Trajectory(
        issue_ts_ms=issue_ts_ms,
        p10=band[:, 0],
        p50=band[:, 1],
        p90=band[:, 2],
        model_version=SEASONAL_NAIVE_VERSION,
        model_kind=MODEL_KIND_SEASONAL_NAIVE,
    )
