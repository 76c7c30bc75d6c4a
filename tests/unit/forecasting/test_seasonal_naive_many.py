"""Seasonal-naive trajectories of a batch equal those of each vector on its own."""

from __future__ import annotations

import itertools
import math

import numpy as np

from gridstream.core.features import feature_names
from gridstream.core.forecasting.baselines import (
    bridge_gaps,
    seasonal_naive_forecast,
    seasonal_naive_many,
)


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


def _bridge_gap_by_gap(profile: np.ndarray, max_gap: int) -> np.ndarray:
    """The oracle: every short gap filled step by step in Python floats."""
    values = profile.tolist()
    known = [i for i, v in enumerate(values) if math.isfinite(v)]
    if len(known) < 2 or len(known) == len(values):
        return profile
    head, tail = known[0], len(values) - 1 - known[-1]
    out = list(values)
    if head <= max_gap:
        out[:head] = [values[head]] * head
    if tail <= max_gap:
        out[known[-1] + 1 :] = [values[known[-1]]] * tail
    for left, right in itertools.pairwise(known):
        if right - left <= max_gap + 1:
            for at in range(left + 1, right):
                share = (at - left) / (right - left)
                out[at] = values[left] + share * (values[right] - values[left])
    return np.array(out, dtype=np.float64)


def test_bridging_fills_exactly_as_gap_by_gap() -> None:
    rng = np.random.default_rng(11)
    for _ in range(2000):
        profile = rng.normal(100.0, 50.0, int(rng.integers(1, 100)))
        profile[rng.random(len(profile)) < rng.random()] = np.nan
        if rng.random() < 0.1:
            profile[rng.integers(len(profile))] = np.inf
        for max_gap in (0, 1, 2, 3):
            got = bridge_gaps(profile, max_gap)
            assert got.tobytes() == _bridge_gap_by_gap(profile, max_gap).tobytes()
