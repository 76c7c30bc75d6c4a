"""Peak-only alarm suppression counts event time, not readings."""

from __future__ import annotations

import numpy as np
import pytest

from gridstream.core.anomaly.ensemble import EnsembleDetector
from gridstream.core.anomaly.presets import DEFAULT_PARAMS, candidate_grid
from gridstream.core.anomaly.surprise import DAY_MS

MINUTE = 60_000
GAP = 48  # readings between the two spikes


def _scores(step_ms: int, **suppression: int) -> tuple[float, float]:
    """The scores of two spikes (the second smaller) ``GAP`` readings apart."""
    det = EnsembleDetector(zscore={"windows": [96], "min_history": 24}, **suppression)
    rng = np.random.default_rng(3)
    values = list(100.0 + rng.normal(0.0, 1.0, 400))
    values[200] = 160.0
    values[200 + GAP] = 140.0
    scores = [det.score_one(i * step_ms, v) for i, v in enumerate(values)]
    return scores[200], scores[200 + GAP]


def test_a_smaller_spike_within_the_span_is_halved() -> None:
    first_raw, second_raw = _scores(15 * MINUTE)
    assert second_raw < first_raw  # the second spike never tops the first
    first, second = _scores(15 * MINUTE, peak_span_ms=DAY_MS)  # 12 h apart
    assert first == pytest.approx(first_raw)
    assert second == pytest.approx(0.5 * second_raw)


def test_the_same_readings_spread_over_more_time_are_not_suppressed() -> None:
    # 48 hourly readings are two days: the first spike has left the one-day span
    _, second_raw = _scores(60 * MINUTE)
    _, second = _scores(60 * MINUTE, peak_span_ms=DAY_MS)
    assert second == pytest.approx(second_raw)
    # a span of readings would have suppressed it all the same
    _, by_count = _scores(60 * MINUTE, peak_window=96)
    assert by_count == pytest.approx(0.5 * second_raw)


def test_a_restored_detector_remembers_the_peaks_of_its_span() -> None:
    det = EnsembleDetector(zscore={"windows": [96], "min_history": 24}, peak_span_ms=DAY_MS)
    rng = np.random.default_rng(3)
    values = list(100.0 + rng.normal(0.0, 1.0, 260))
    values[200] = 160.0
    values[248] = 140.0
    for i, v in enumerate(values[:220]):
        det.score_one(i * 15 * MINUTE, v)
    restored = EnsembleDetector.from_bytes(det.to_bytes())
    tail = [(i * 15 * MINUTE, v) for i, v in enumerate(values) if i >= 220]
    assert [restored.score_one(t, v) for t, v in tail] == [det.score_one(t, v) for t, v in tail]


def test_the_default_suppresses_over_a_week_and_is_a_cv_candidate() -> None:
    assert DEFAULT_PARAMS["peak_span_ms"] == 7 * DAY_MS
    grid = candidate_grid()
    assert DEFAULT_PARAMS in grid.values()
    assert all(params["peak_span_ms"] > 0 for params in grid.values())
