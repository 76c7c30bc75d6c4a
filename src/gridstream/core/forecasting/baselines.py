"""Reference forecasts: persistence, same time yesterday, same time last week, seasonal naive.

All read the shared features (``value``, ``prof_d1_h``, ``prof_w1_h``), so the baselines see
exactly the history the models see.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

from gridstream.core.features.grid import HORIZON_STEPS
from gridstream.core.features.pipeline import feature_names
from gridstream.core.forecasting.trajectory import (
    MODEL_KIND_SEASONAL_NAIVE,
    Trajectory,
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
    # every missing step between two known ones, with its known neighbours (all at once)
    inside = np.arange(known[0] + 1, known[-1])
    steps = inside[~np.isfinite(profile[inside])]
    after = np.searchsorted(known, steps)
    left, right = known[after - 1], known[after]
    short = right - left <= max_gap + 1
    steps, left, right = steps[short], left[short], right[short]
    weight = (steps - left) / (right - left)
    out[steps] = profile[left] + weight * (profile[right] - profile[left])
    return out


@lru_cache(maxsize=1)
def _columns() -> tuple[np.ndarray, np.ndarray, int, int]:
    """Positions in ``feature_names()`` of the week and day profiles, value and 24 h std."""
    at = {name: i for i, name in enumerate(feature_names())}
    week = np.array([at[k] for k in _WEEK_KEYS], dtype=np.int64)
    day = np.array([at[k] for k in _DAY_KEYS], dtype=np.int64)
    return week, day, at["value"], at["roll_std_96"]


def seasonal_naive_forecast(features: Mapping[str, float], issue_ts_ms: int) -> Trajectory:
    """A 24 h trajectory without a model: same quarter-hour last week, else yesterday, else now.

    The band is ±1.28 × a robust scale (the mean absolute gap between the yesterday and
    last-week profiles, at least the recent 24 h standard deviation / 4), a rough 80 %
    interval. Forecasts are labelled ``seasonal-naive`` so consumers can tell them apart.
    """
    names = feature_names()
    row = np.array([[features.get(name, np.nan) for name in names]], dtype=np.float64)
    return seasonal_naive_many(row, [issue_ts_ms])[0]


def seasonal_naive_many(values: np.ndarray, issue_ts_ms: Sequence[int]) -> list[Trajectory]:
    """:func:`seasonal_naive_forecast` of many vectors at once: ``values`` holds one row of
    features per origin in ``feature_names()`` order (NaN: unknown), read by position."""
    week_at, day_at, value_at, std_at = _columns()
    week = values[:, week_at]
    day = values[:, day_at]
    for profile in (week, day):
        for i in np.flatnonzero(np.isnan(profile).any(axis=1)).tolist():
            profile[i] = bridge_gaps(profile[i])
    now = values[:, value_at : value_at + 1]
    p50 = np.where(np.isnan(week), day, week)
    p50 = np.where(np.isnan(p50), now, p50)
    gaps = np.abs(week - day)
    scales = []
    for row, std in zip(gaps, values[:, std_at].tolist(), strict=True):
        scale = float(np.nanmean(row)) if np.isfinite(row).any() else 0.0
        if math.isfinite(std):
            scale = max(scale, std / 4.0)
        scales.append(scale)
    scale_col = np.array(scales, dtype=np.float64)[:, None]
    bands = np.sort(np.stack([p50 - _Z90 * scale_col, p50, p50 + _Z90 * scale_col], axis=2), axis=2)
    return [
        Trajectory(
            issue_ts_ms=int(ts),
            p10=band[:, 0],
            p50=band[:, 1],
            p90=band[:, 2],
            model_version=SEASONAL_NAIVE_VERSION,
            model_kind=MODEL_KIND_SEASONAL_NAIVE,
        )
        for ts, band in zip(issue_ts_ms, bands, strict=True)
    ]
