"""Infeasible or failed solves return a hold schedule with a reason; nothing escapes."""

from __future__ import annotations

import numpy as np
import pytest

from gridstream.core.storage import (
    BatteryFleet,
    HorizonForecast,
    Quantiles,
    limit_violations,
    plan_schedule,
    planner,
    preset,
)


def fleet() -> BatteryFleet:
    return BatteryFleet(region="ALL", energy_mwh=100, charge_mw=50, discharge_mw=50)


def co2(steps: int = 8) -> HorizonForecast:
    return HorizonForecast(1000, {"co2": Quantiles.exact(np.linspace(100, 300, steps))})


def test_initial_soc_outside_bounds_is_infeasible_and_holds() -> None:
    result = plan_schedule(fleet(), co2(), preset("co2"), initial_soc_mwh=200.0)
    assert result.fallback
    assert "Infeasible" in result.status or "infeasible" in result.reason.lower()
    assert np.all(result.charge_mw == 0) and np.all(result.discharge_mw == 0)
    assert np.all(result.soc_mwh == 200.0)
    assert limit_violations(fleet(), result) == []


@pytest.mark.parametrize(
    "forecast",
    [
        HorizonForecast(0, {}),
        HorizonForecast(0, {"co2": Quantiles.exact([1.0, np.nan])}),
        HorizonForecast(0, {"co2": Quantiles.exact([1.0]), "demand": Quantiles.exact([1, 2])}),
        HorizonForecast(0, {"bogus": Quantiles.exact([1.0])}),
    ],
)
def test_bad_forecasts_hold_with_a_reason(forecast: HorizonForecast) -> None:
    result = plan_schedule(fleet(), forecast, preset("co2"))
    assert result.fallback and result.reason.startswith("invalid input")


def test_solver_crash_is_contained(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: object) -> None:
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(planner, "solve_lp", boom)
    result = plan_schedule(fleet(), co2(), preset("co2"))
    assert result.fallback and "solver exploded" in result.reason
    assert result.status == "error"


def test_unreachable_terminal_soc_is_relaxed_not_failed() -> None:
    f = BatteryFleet(
        region="ALL",
        energy_mwh=1000,
        charge_mw=10,
        discharge_mw=10,
        initial_soc=0.1,
        terminal_soc=0.9,
    )
    result = plan_schedule(f, co2(4), preset("co2"), initial_soc_mwh=100.0)
    assert not result.fallback
    assert "relaxed" in result.reason
    assert result.charge_mw == pytest.approx([10.0] * 4)


def test_a_non_finite_value_is_named_in_the_reason() -> None:
    good = Quantiles.exact(np.linspace(100, 300, 8))
    bad = Quantiles(good.p10, good.p50, np.where(np.arange(8) == 3, np.inf, good.p90))
    result = plan_schedule(fleet(), HorizonForecast(0, {"co2": good, "demand": bad}), preset("co2"))
    assert result.fallback and "forecast demand has missing or infinite values" in result.reason
