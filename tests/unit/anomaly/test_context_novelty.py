"""Context novelty: new levels, overlong runs and new rhythms score; familiar ones do not."""

from __future__ import annotations

import math

import numpy as np

from gridstream.core.anomaly.context_novelty import ContextNoveltyDetector

STEP = 5 * 60_000


def _square(days: int, high: float = 80.0, low: float = 20.0, seed: int = 3) -> list[float]:
    """A daily square wave (288 readings a day, half high, half low) with a little noise."""
    rng = np.random.default_rng(seed)
    out: list[float] = []
    for _ in range(days):
        out += [high] * 144 + [low] * 144
    return list(np.array(out) + rng.uniform(-0.1, 0.1, len(out)))


def _scores(det: ContextNoveltyDetector, values: list[float], start: int = 0) -> list[float]:
    return [det.score_one((start + i) * STEP, v) for i, v in enumerate(values)]


def test_familiar_square_wave_stops_scoring_and_a_new_plateau_scores() -> None:
    det = ContextNoveltyDetector()
    normal = _square(8)
    scores = _scores(det, normal)
    assert max(scores[-288 * 3 :]) == 0.0  # after a few days nothing is new
    day = [50.0 + v - 80.0 if v > 50 else v for v in _square(1, seed=9)]  # high half at 50
    odd = _scores(det, day, len(normal))
    assert max(odd[:144]) >= 0.5
    assert odd.index(max(odd[:144])) < 3  # the first reading on the new level


def test_a_level_held_longer_than_ever_scores_like_a_stuck_feed() -> None:
    det = ContextNoveltyDetector()
    normal = _square(6)
    _scores(det, normal)
    stuck = [20.0] * 600  # the last low half-day (144 readings) goes on for 2 more days
    scores = _scores(det, stuck, len(normal))
    first = next(i for i, s in enumerate(scores) if s > 0)
    # runs so far lasted 144 readings (duration class 128-255): the run becomes new when
    # it reaches 256 readings in all, 256 - 144 readings into the stuck stretch
    assert first == 256 - 144 - 1
    assert scores[first] > 0.5
    assert sum(s > 0 for s in scores) == 2  # again at 512: one alarm per doubling


def test_spikes_arriving_more_often_are_a_new_rhythm() -> None:
    det = ContextNoveltyDetector()
    sparse = ([0.0] * 99 + [20.0]) * 40
    scores = _scores(det, sparse)
    assert max(scores[-1000:]) == 0.0
    dense = ([0.0] * 11 + [20.0]) * 5
    new = _scores(det, dense, len(sparse))
    assert new[11] > 0.2  # the first spike after a short rest


def test_novelty_counts_for_less_on_a_series_that_is_always_new() -> None:
    regular, noisy = ContextNoveltyDetector(), ContextNoveltyDetector()
    _scores(regular, _square(6))
    rng = np.random.default_rng(5)
    _scores(noisy, list(rng.uniform(0.0, 100.0, 288 * 6)))
    n = 288 * 6
    regular_score = regular.score_one(n * STEP, 50.0)  # a level the square wave never visits
    noisy_score = noisy.score_one(n * STEP, 150.0)  # a level the noise never visits
    assert regular.last_surprise > noisy.last_surprise > 0.0
    assert regular_score > noisy_score


def test_warm_up_scores_zero_and_non_finite_scores_one() -> None:
    det = ContextNoveltyDetector(warmup=50)
    assert _scores(det, [float(i % 7) for i in range(50)]) == [0.0] * 50
    assert det.ready
    assert det.score_one(50 * STEP, math.nan) == 1.0
    assert det.score_one(51 * STEP, 1.0) == 0.0  # 0 -> 1 as before: nothing new learnt


def test_state_is_bounded_by_max_contexts() -> None:
    det = ContextNoveltyDetector(warmup=20, max_contexts=40)
    rng = np.random.default_rng(2)
    _scores(det, list(rng.uniform(0.0, 1000.0, 2000)))
    assert len(det.get_state()["seen"]) == 40


def test_state_lists_every_context_learned_since_the_last_state() -> None:
    """The sorted contexts are kept between writes: a context learned after one get_state
    (or after set_state) must be in the next."""
    det = ContextNoveltyDetector(warmup=20)
    _scores(det, _square(1))
    first = det.get_state()["seen"]
    first.append("caller's own edit")  # what a caller does to its copy stays there
    _scores(det, [500.0, 500.0, -300.0], start=288)  # new levels: new contexts
    second = det.get_state()["seen"]
    assert second == sorted(det._seen) and len(second) > len(first) - 1
    assert "caller's own edit" not in second
    restored = ContextNoveltyDetector(warmup=20)
    restored.set_state(det.get_state())
    _scores(restored, [900.0], start=291)
    assert restored.get_state()["seen"] == sorted(restored._seen)
    assert len(restored.get_state()["seen"]) > len(second)
