"""Warm-started solves give the same optimum as cold ones, and reuse one solver."""

from __future__ import annotations

import numpy as np
import pytest

from gridstream.core.storage import BatteryFleet, HorizonForecast, Quantiles, preset
from gridstream.core.storage import solver as solver_module
from gridstream.core.storage.lp import build_lp


def forecast(seed: int, steps: int = 96) -> HorizonForecast:
    rng = np.random.default_rng(seed)
    mid = 250 + 60 * np.sin(np.arange(steps) / 8 + seed) + rng.normal(0, 15, steps)
    return HorizonForecast(0, {"co2": Quantiles.of(mid - 30, mid, mid + 30)})


def test_warm_and_cold_solves_agree_over_a_receding_horizon() -> None:
    solver_module.clear_warm_solvers()
    fleet = BatteryFleet(
        region="ALL", energy_mwh=1000, charge_mw=500, discharge_mw=500, ramp_mw_per_step=500
    )
    weights = preset("co2", 0.5)
    for seed in range(12):
        lp = build_lp(fleet, forecast(seed), weights, 100.0 + 60.0 * seed)
        warm_status, warm_x, warm_obj = solver_module.solve_lp(lp, warm=True)
        cold_status, cold_x, cold_obj = solver_module.solve_lp(lp, warm=False)
        assert warm_status == cold_status == "Optimal"
        assert warm_x is not None and cold_x is not None
        assert warm_obj == pytest.approx(cold_obj, rel=1e-7, abs=1e-6)
    assert len(solver_module._cache) == 1  # one structure, one kept solver


def test_an_infeasible_warm_solve_reports_it_and_forgets_the_solver() -> None:
    solver_module.clear_warm_solvers()
    fleet = BatteryFleet(region="ALL", energy_mwh=1000, charge_mw=500, discharge_mw=500)
    lp = build_lp(fleet, forecast(1, 8), preset("co2", 0.0), 500.0)
    assert solver_module.solve_lp(lp)[1] is not None
    # a start of 1500 MWh: even a full step of discharge leaves SoC above 900, infeasible
    rows_lower = lp.row_lower.copy()
    rows_upper = lp.row_upper.copy()
    rows_lower[0] = rows_upper[0] = 1500.0
    bad = type(lp)(**{**lp.__dict__, "row_lower": rows_lower, "row_upper": rows_upper})
    status, values, _ = solver_module.solve_lp(bad)
    assert values is None and status != "Optimal"
    assert len(solver_module._cache) == 0


def test_a_reset_solver_solves_bit_for_bit_as_a_new_one_and_keeps_its_time_limit() -> None:
    fleet = BatteryFleet(
        region="ALL", energy_mwh=1000, charge_mw=500, discharge_mw=500, ramp_mw_per_step=500
    )
    weights = preset("co2", 0.5)
    lps = [build_lp(fleet, forecast(seed), weights, 100.0 + 60.0 * seed) for seed in range(8)]
    fresh = []
    for lp in lps:  # a new HiGHS instance per LP
        solver_module.clear_warm_solvers()
        fresh.append(solver_module.solve_lp(lp))
    solver_module.clear_warm_solvers()
    kept = solver_module._cache
    run_time = 0.0
    while run_time < solver_module.TIME_LIMIT_S + 0.5:  # past one instance's time limit
        for lp, (status, values, objective) in zip(lps, fresh, strict=True):
            solver_module.reset_warm_starts()
            got_status, got_values, got_objective = solver_module.solve_lp(lp)
            assert got_status == status == "Optimal"
            assert got_values is not None and values is not None
            assert got_values.tobytes() == values.tobytes() and got_objective == objective
        assert len(kept) == 1  # the one instance, reset each time
        run_time = next(iter(kept.values())).getRunTime()
