"""LP correctness on small cases whose optimum is known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from gridstream.core.storage import BatteryFleet, HorizonForecast, Quantiles, plan_schedule
from gridstream.core.storage.objectives import ObjectiveWeights


def fleet(**kw: float | None) -> BatteryFleet:
    base: dict[str, float | None] = dict(
        energy_mwh=100.0,
        charge_mw=100.0,
        discharge_mw=100.0,
        soc_min=0.0,
        soc_max=1.0,
        charge_efficiency=1.0,
        discharge_efficiency=1.0,
        throughput_cost_per_mwh=0.0,
        initial_soc=0.0,
        terminal_soc=None,
        ramp_mw_per_step=None,
    )
    base.update(kw)
    return BatteryFleet(region="T", **base)  # type: ignore[arg-type]


def co2_only(robustness: float = 0.0) -> ObjectiveWeights:
    return ObjectiveWeights(co2_eur_per_t=1000.0, robustness=robustness)


def test_charges_when_clean_and_discharges_when_dirty() -> None:
    # 100 MW for 15 min = 25 MWh; intensity 100 then 500 g/kWh.
    # Best: charge 25 MWh in step 0 (+2.5 t), discharge 25 MWh in step 1 (-12.5 t).
    f = fleet()
    fc = HorizonForecast(0, {"co2": Quantiles.exact([100.0, 500.0])})
    r = plan_schedule(f, fc, co2_only(), initial_soc_mwh=0.0)
    assert not r.fallback, r.reason
    assert r.charge_mw == pytest.approx([100.0, 0.0], abs=1e-6)
    assert r.discharge_mw == pytest.approx([0.0, 100.0], abs=1e-6)
    assert r.soc_mwh == pytest.approx([25.0, 0.0], abs=1e-6)
    assert r.objective_value == pytest.approx(1000.0 * (2.5 - 12.5), rel=1e-6)


def test_losses_make_a_small_spread_not_worth_cycling() -> None:
    # round trip 0.8: charging 1 MWh at 100 yields 0.8 MWh at 120 -> 96 < 100, so hold
    f = fleet(charge_efficiency=0.8944, discharge_efficiency=0.8944)
    fc = HorizonForecast(0, {"co2": Quantiles.exact([100.0, 120.0])})
    r = plan_schedule(f, fc, co2_only(), initial_soc_mwh=0.0)
    assert not r.fallback
    assert r.charge_mw.sum() == pytest.approx(0.0, abs=1e-6)
    assert r.discharge_mw.sum() == pytest.approx(0.0, abs=1e-6)


def test_terminal_soc_is_respected() -> None:
    # starting full with terminal 0.5: only 50 MWh may be sold into the dirty step
    f = fleet(initial_soc=1.0, terminal_soc=0.5)
    fc = HorizonForecast(0, {"co2": Quantiles.exact([500.0, 500.0, 500.0])})
    r = plan_schedule(f, fc, co2_only(), initial_soc_mwh=100.0)
    assert r.discharge_mw.sum() * 0.25 == pytest.approx(50.0, abs=1e-6)
    assert r.soc_mwh[-1] == pytest.approx(50.0, abs=1e-6)


def test_peak_shaving_flattens_a_single_spike() -> None:
    # net demand 1000 except one step at 1200; 100 MW discharge for that step removes 100 MW
    f = fleet(initial_soc=1.0)
    demand = np.array([1000.0, 1000.0, 1200.0, 1000.0])
    fc = HorizonForecast(0, {"demand": Quantiles.exact(demand)})
    r = plan_schedule(
        f, fc, ObjectiveWeights(peak_eur_per_mw=10.0, robustness=0.0), initial_soc_mwh=100.0
    )
    assert (demand - r.net_mw).max() == pytest.approx(1100.0, abs=1e-6)


def test_ramp_limit_spreads_the_discharge() -> None:
    f = fleet(initial_soc=1.0, ramp_mw_per_step=40.0)
    fc = HorizonForecast(0, {"co2": Quantiles.exact([500.0, 500.0, 500.0])})
    r = plan_schedule(f, fc, co2_only(), initial_soc_mwh=100.0)
    # net power can reach 40, 80, 100 at most
    assert r.discharge_mw == pytest.approx([40.0, 80.0, 100.0], abs=1e-6)


def test_robustness_skips_a_trade_whose_spread_is_within_the_uncertainty() -> None:
    # P50 says 100 -> 200 (worth it); worst case says charge at P90 180, discharge at P10 120
    f = fleet()
    co2 = Quantiles.of([50.0, 120.0], [100.0, 200.0], [180.0, 300.0])
    fc = HorizonForecast(0, {"co2": co2})
    nominal = plan_schedule(f, fc, co2_only(0.0), initial_soc_mwh=0.0)
    robust = plan_schedule(f, fc, co2_only(1.0), initial_soc_mwh=0.0)
    assert nominal.discharge_mw.sum() == pytest.approx(100.0, abs=1e-6)
    assert robust.discharge_mw.sum() == pytest.approx(0.0, abs=1e-6)
