"""Metrics against hand-computed values; promotion and retraining decisions."""

from __future__ import annotations

import numpy as np

from gridstream.core.forecasting import RetrainPolicy, promotion_decision
from gridstream.core.forecasting.metrics import coverage, mae, mape, pinball
from gridstream.core.forecasting.promotion import DAY_MS


def test_metrics_match_hand_computation() -> None:
    actual = np.array([100.0, 200.0, np.nan, 0.5])
    predicted = np.array([110.0, 190.0, 5.0, 0.0])
    assert mae(actual, predicted) == (10 + 10 + 0.5) / 3
    assert np.isclose(mape(actual, predicted), (10 + 5) / 2)  # |actual| < 1 is left out
    bands = np.array([[90.0, 100.0, 120.0]])
    # actual 100: p10 loss 0.1*10, p50 0, p90 loss 0.1*20 -> mean 1.0
    assert np.isclose(pinball(np.array([100.0]), bands), 1.0)
    assert coverage(np.array([1.0, 5.0, 9.0]), np.full(3, 2.0), np.full(3, 8.0)) == 1 / 3


def test_promotion_requires_beating_the_incumbent() -> None:
    assert promotion_decision(1.0, None).yes
    assert promotion_decision(0.9, 1.0).yes
    assert not promotion_decision(1.0, 1.0).yes
    assert not promotion_decision(0.99, 1.0, min_improvement=0.05).yes
    assert not promotion_decision(float("nan"), 1.0).yes


def test_retrain_triggers() -> None:
    policy = RetrainPolicy(interval_ms=DAY_MS, drift_margin=0.25, min_live_samples=10)
    now = 10 * DAY_MS
    assert policy.decide(now, None).reason == "bootstrap"
    assert policy.decide(now, now - 1000, requested=True).reason == "manual"
    assert policy.decide(now, now - DAY_MS).reason == "schedule"
    drift = policy.decide(now, now - 1000, live_error=13.0, live_samples=50, validation_error=10.0)
    assert drift.yes and drift.reason == "drift"
    within = policy.decide(now, now - 1000, live_error=12.0, live_samples=50, validation_error=10.0)
    assert not within.yes
    too_few = policy.decide(now, now - 1000, live_error=50.0, live_samples=5, validation_error=10.0)
    assert not too_few.yes


def test_band_factors_calibrate_a_too_narrow_band_to_80_percent() -> None:
    from gridstream.core.forecasting.lead_calibration import band_factors

    rng = np.random.default_rng(7)
    n = 96 * 400
    leads = np.tile(np.arange(1, 97), 400)
    actual = rng.normal(0.0, 1.0, n)
    half = 0.5 * np.ones(n)  # true 80 % half-width is 1.2816; this band covers ~38 %
    levels = np.column_stack([-half, np.zeros(n), half])
    assert coverage(actual, levels[:, 0], levels[:, 2]) < 0.45
    factors = band_factors(actual, levels, leads)
    assert factors.shape == (97,)
    widened = factors[leads] * half
    assert 0.77 < coverage(actual, -widened, widened) < 0.83
    assert np.allclose(factors[1:], 1.2816 / 0.5, rtol=0.1)


def test_band_factors_follow_a_per_lead_coverage_target() -> None:
    from gridstream.core.forecasting.lead_calibration import band_factors
    from gridstream.core.forecasting.train_config import TrainConfig

    rng = np.random.default_rng(11)
    n = 96 * 600
    leads = np.tile(np.arange(1, 97), 600)
    actual = rng.normal(0.0, 1.0, n)
    half = np.ones(n)
    levels = np.column_stack([-half, np.zeros(n), half])
    targets = TrainConfig(band_coverage=0.70, band_coverage_24h=0.90).coverage_targets()
    assert targets[1] == 0.70 and abs(targets[96] - 0.90) < 1e-12
    factors = band_factors(actual, levels, leads, targets)
    early, late = leads <= 10, leads >= 87
    assert 0.67 < coverage(actual[early], -factors[leads][early], factors[leads][early]) < 0.73
    assert 0.87 < coverage(actual[late], -factors[leads][late], factors[leads][late]) < 0.93
