"""run_backtest on a few synthetic days: the report's keys, limits and internal consistency."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from gridstream.core.storage import BatteryFleet
from gridstream.core.storage.backtest import run_backtest
from gridstream.core.storage.forecast_sources import (
    ForecastSource,
    PerfectForesight,
    SeasonalNaive,
)
from gridstream.core.storage.replay_data import ReplayData

DAYS = 4


def synthetic(noise: float, seed: int = 3) -> ReplayData:
    """CO2 intensity low at night and high in the evening, with day-to-day noise."""
    index = pd.date_range("2021-01-30", periods=DAYS * 96, freq="15min", tz="UTC")
    hours = np.arange(len(index)) / 4.0
    rng = np.random.default_rng(seed)
    co2 = 300 + 120 * np.sin(2 * np.pi * (hours - 12) / 24) + rng.normal(0, noise, len(index))
    series = {
        "demand": 5000 + 800 * np.sin(2 * np.pi * (hours - 12) / 24),
        "wind": np.full(len(index), 1500.0),
        "co2": co2,
    }
    return ReplayData(index=index, series=series, filled_steps=dict.fromkeys(series, 0))


def fleet() -> BatteryFleet:
    return BatteryFleet(region="ALL", energy_mwh=1000, charge_mw=500, discharge_mw=500)


def backtest(data: ReplayData, source: ForecastSource, **settings: Any) -> dict[str, Any]:
    """run_backtest of the co2 objective from the second day to the end, replanning every
    2 hours, with ``settings`` for the forecast MPC."""
    return run_backtest(data, fleet(), "co2", 96, len(data), source, replan_steps=8, **settings)


def test_report_is_consistent_and_within_limits() -> None:
    data = synthetic(noise=5.0)
    report = backtest(data, SeasonalNaive())
    for key in ("benefit", "ratio_to_perfect_foresight", "monthly_benefit", "violations"):
        assert key in report
    assert report["solve_ms_p50"] <= report["solve_ms_p99"]
    assert all(v == 0 for v in report["violations"].values())
    benefit = report["benefit"]
    # nothing planned on a forecast beats planning on the actuals with the same MPC
    best = benefit["perfect_foresight"]["co2_avoided_t"]
    assert best > 0
    for name in ("forecast_mpc", "forecast_mpc_nominal"):
        assert benefit[name]["co2_avoided_t"] <= best + 1e-6
    # the monthly split (January/February) adds up to the total
    for name, months in report["monthly_benefit"].items():
        assert set(months) == {"2021-01", "2021-02"}
        total = sum(m["co2_avoided_t"] for m in months.values())
        assert total == pytest.approx(benefit[name]["co2_avoided_t"], abs=0.2)
    ratio = report["ratio_to_perfect_foresight"]["forecast_mpc_nominal"]["co2_avoided_t"]
    assert ratio == pytest.approx(benefit["forecast_mpc_nominal"]["co2_avoided_t"] / best, abs=1e-3)


def test_a_perfect_forecast_matches_perfect_foresight_without_hurdles() -> None:
    data = synthetic(noise=0.0)
    report = backtest(
        data, PerfectForesight(), robustness=0.0, throughput_penalty=0.0, terminal_quantile=None
    )
    benefit = report["benefit"]
    assert benefit["forecast_mpc"]["co2_avoided_t"] == pytest.approx(
        benefit["perfect_foresight"]["co2_avoided_t"], rel=1e-3
    )
    assert report["robustness_gain"] == pytest.approx(0.0, abs=0.2)


def test_the_forecast_skill_sweep_spans_the_forecast_and_perfect_foresight() -> None:
    data = synthetic(noise=25.0)
    report = backtest(data, SeasonalNaive(), error_scales=(1.0, 0.5, 0.0))
    benefit = report["benefit"]
    points = {p["error_scale"]: p for p in report["forecast_skill"]}
    assert list(points) == [1.0, 0.5, 0.0]
    co2 = {scale: p["benefit"]["co2_avoided_t"] for scale, p in points.items()}
    # errors x1 is the forecast MPC itself; x0 is planning on the actuals
    assert co2[1.0] == pytest.approx(benefit["forecast_mpc"]["co2_avoided_t"], abs=0.1)
    best = benefit["perfect_foresight"]["co2_avoided_t"]
    assert co2[0.0] == pytest.approx(best, rel=1e-3)
    assert points[0.0]["ratio_to_perfect_foresight"]["co2_avoided_t"] == pytest.approx(1.0)
    # the noisy naive forecast leaves a gap that halving its errors narrows
    assert co2[1.0] < co2[0.5] <= best + 1e-6
    assert all(p["violations"] == 0 for p in points.values())


def test_without_feedback_the_forecast_mpc_plans_on_the_source_as_issued() -> None:
    from gridstream.core.storage.evaluation import evaluate
    from gridstream.core.storage.objectives import preset
    from gridstream.core.storage.strategies import run_mpc

    data = synthetic(noise=25.0)
    kwargs = {"robustness": 0.3, "spread_widening": 0.0}
    plain = backtest(data, SeasonalNaive(), feedback_tau_steps=0.0, **kwargs)
    direct = run_mpc(
        fleet(), preset("co2", 0.3), SeasonalNaive(), data, 96, len(data), replan_steps=8
    )
    assert plain["benefit"]["forecast_mpc"]["co2_avoided_t"] == pytest.approx(
        evaluate(fleet(), direct, data)["co2_avoided_t"], abs=0.05
    )
    fed = backtest(data, SeasonalNaive(), feedback_tau_steps=12.0, **kwargs)
    assert fed["planning"]["feedback_tau_steps"] == 12.0
    assert (
        fed["benefit"]["forecast_mpc"]["co2_avoided_t"]
        != plain["benefit"]["forecast_mpc"]["co2_avoided_t"]
    )
