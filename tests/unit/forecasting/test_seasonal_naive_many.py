"""Seasonal-naive trajectories of a batch equal those of each vector on its own."""

from __future__ import annotations

import math

import numpy as np

from gridstream.core.features import feature_names
from gridstream.core.forecasting.baselines import seasonal_naive_forecast, seasonal_naive_many


def _rows() -> np.ndarray:
    names = feature_names()
    rng = np.random.default_rng(7)
    rows = np.full((4, len(names)), np.nan)
    for i, name in enumerate(names):
        if name.startswith(("prof_w1_", "prof_d1_")) or name in ("value", "roll_std_96"):
            rows[:, i] = rng.normal(1000.0, 200.0, size=4)
    week = [i for i, n in enumerate(names) if n.startswith("prof_w1_")]
    day = [i for i, n in enumerate(names) if n.startswith("prof_d1_")]
    rows[1, week[1::2]] = np.nan  # half-hourly: bridged
    rows[2, week[10:40]] = np.nan  # a long gap: yesterday fills it
    rows[2, names.index("roll_std_96")] = np.nan
    rows[3, week + day] = np.nan  # no profile: the latest value
    return rows


def test_a_batch_equals_each_vector_alone() -> None:
    rows = _rows()
    names = feature_names()
    stamps = [1_650_000_000_000 + k * 900_000 for k in range(len(rows))]
    many = seasonal_naive_many(rows.copy(), stamps)
    for row, ts, got in zip(rows, stamps, many, strict=True):
        alone = seasonal_naive_forecast(
            {n: float(v) for n, v in zip(names, row, strict=True) if not math.isnan(v)}, ts
        )
        assert got.issue_ts_ms == ts
        for q in ("p10", "p50", "p90"):
            assert getattr(got, q).tobytes() == getattr(alone, q).tobytes()
    assert np.isfinite(many[3].p50).all()
    assert (many[3].p50 == rows[3, names.index("value")]).all()


def test_the_input_rows_are_left_as_they_were() -> None:
    rows = _rows()
    before = rows.copy()
    seasonal_naive_many(rows, [0, 1, 2, 3])
    assert np.array_equal(rows, before, equal_nan=True)
