"""One conformance test run over every detector implementation (river style)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from gridstream.core.anomaly.base import Detector
from gridstream.core.anomaly.context_novelty import ContextNoveltyDetector
from gridstream.core.anomaly.ensemble import EnsembleDetector
from gridstream.core.anomaly.presets import default_detector
from gridstream.core.anomaly.relative_entropy import RelativeEntropyDetector
from gridstream.core.anomaly.robust_zscore import RobustZScoreDetector
from gridstream.core.anomaly.surprise import PredictiveSurpriseDetector
from gridstream.errors import SerdeError

FACTORIES: dict[str, Callable[[], Detector]] = {
    "robust_zscore": RobustZScoreDetector,
    "predictive_surprise": PredictiveSurpriseDetector,
    "ensemble": EnsembleDetector,
    "relative_entropy": RelativeEntropyDetector,
    "context_novelty": ContextNoveltyDetector,
    "default": default_detector,
}
STEP = 15 * 60_000


def _series(n: int, seed: int = 1) -> list[float]:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return list(4000 + 800 * np.sin(2 * np.pi * t / 96) + rng.normal(0, 30, n))


@pytest.fixture(params=sorted(FACTORIES))
def factory(request: pytest.FixtureRequest) -> Callable[[], Detector]:
    return FACTORIES[request.param]


def test_scores_are_in_unit_interval(factory: Callable[[], Detector]) -> None:
    det = factory()
    values = [*_series(600), 1000000000.0, -1000000000.0, 0.0, math.inf]
    for i, v in enumerate(values):
        s = det.score_one(i * STEP, v)
        assert 0.0 <= s <= 1.0


def test_restore_from_bytes_continues_identically(factory: Callable[[], Detector]) -> None:
    values = _series(900)
    a = factory()
    for i, v in enumerate(values[:500]):
        a.score_one(i * STEP, v)
    b = type(a).from_bytes(a.to_bytes())
    for i, v in enumerate(values[500:], start=500):
        assert a.score_one(i * STEP, v) == b.score_one(i * STEP, v)


def test_causal_future_does_not_change_past(factory: Callable[[], Detector]) -> None:
    values = _series(400)
    a, b = factory(), factory()
    first = [a.score_one(i * STEP, v) for i, v in enumerate(values)]
    altered = values[:300] + [v * 3 for v in values[300:]]
    second = [b.score_one(i * STEP, v) for i, v in enumerate(altered)]
    assert first[:300] == second[:300]


def test_a_large_spike_scores_higher_than_normal(factory: Callable[[], Detector]) -> None:
    det = factory()
    values = _series(800)
    normal = [det.score_one(i * STEP, v) for i, v in enumerate(values)]
    spike = det.score_one(800 * STEP, values[-96] + 3000)
    assert spike > float(np.quantile(normal[200:], 0.99))


def test_state_of_another_kind_is_rejected(factory: Callable[[], Detector]) -> None:
    det = factory()
    other = RobustZScoreDetector() if det.kind != "robust_zscore" else PredictiveSurpriseDetector()
    with pytest.raises(SerdeError):
        type(det).from_bytes(other.to_bytes())
    with pytest.raises(SerdeError):
        type(det).from_bytes(b"not a state")
