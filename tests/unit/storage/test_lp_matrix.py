"""The LP's constraint matrix is built once per structure, and passing it column-wise in
array form gives HiGHS the same model as the row-wise one, bit for bit in the solution."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gridstream.core.storage import BatteryFleet, HorizonForecast, Quantiles, preset
from gridstream.core.storage import solver as solver_module
from gridstream.core.storage.lp import LpArrays, build_lp


def forecast(seed: int, steps: int = 96) -> HorizonForecast:
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    co2 = 250 + 60 * np.sin(t / 8 + seed) + rng.normal(0, 15, steps)
    demand = 4500 + 900 * np.sin(t / 12 + seed) + rng.normal(0, 50, steps)
    wind = 1500 + 700 * np.cos(t / 20 + seed) + rng.normal(0, 80, steps)
    return HorizonForecast(
        0,
        {
            "co2": Quantiles.of(co2 - 30, co2, co2 + 30),
            "demand": Quantiles.of(demand - 200, demand, demand + 200),
            "wind": Quantiles.of(wind - 300, wind, wind + 300),
        },
    )


FLEETS = {
    "ramped": BatteryFleet(
        region="ALL", energy_mwh=1000, charge_mw=500, discharge_mw=500, ramp_mw_per_step=300
    ),
    "free": BatteryFleet(region="NI", energy_mwh=200, charge_mw=100, discharge_mw=100),
}


def dense(start: np.ndarray, index: np.ndarray, value: np.ndarray, shape: tuple[int, int]) -> Any:
    """A CSR (or, transposed, CSC) matrix as a dense array."""
    out = np.zeros(shape)
    for line in range(shape[0]):
        for k in range(start[line], start[line + 1]):
            out[line, index[k]] = value[k]
    return out


def rowwise_solution(lp: LpArrays) -> tuple[str, Any, float]:
    """The solve as the optimiser made it before: a HighsLp with the row-wise matrix."""
    import highspy

    solver = solver_module._new_solver()
    model = highspy.HighsLp()
    model.num_col_ = len(lp.col_cost)
    model.num_row_ = len(lp.row_lower)
    model.col_cost_ = lp.col_cost
    model.col_lower_ = lp.col_lower
    model.col_upper_ = lp.col_upper
    model.row_lower_ = lp.row_lower
    model.row_upper_ = lp.row_upper
    model.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    model.a_matrix_.start_ = lp.row_start
    model.a_matrix_.index_ = lp.row_index
    model.a_matrix_.value_ = lp.row_value
    model.a_matrix_.num_row_ = model.num_row_
    model.a_matrix_.num_col_ = model.num_col_
    solver.passModel(model)
    solver.run()
    return solver_module._result(solver)


@pytest.mark.parametrize("objective", ["co2", "peak", "wind", "mixed"])
@pytest.mark.parametrize("fleet_name", sorted(FLEETS))
def test_column_wise_arrays_solve_bit_for_bit_as_the_row_wise_model(
    objective: str, fleet_name: str
) -> None:
    fleet = FLEETS[fleet_name]
    for seed in range(3):
        lp = build_lp(fleet, forecast(seed), preset(objective, 0.5), 0.5 * fleet.energy_mwh, 40.0)
        m = lp.matrix
        shape = (m.num_row, m.num_col)
        by_rows = dense(m.row_start, m.row_index, m.row_value, shape)
        by_cols = dense(m.col_start, m.col_index, m.col_value, (m.num_col, m.num_row)).T
        assert np.array_equal(by_rows, by_cols)
        for col in range(m.num_col):  # a column's entries in row order
            rows = m.col_index[m.col_start[col] : m.col_start[col + 1]]
            assert np.all(np.diff(rows) > 0)
        status, values, objective_value = solver_module.solve_lp(lp, warm=False)
        old_status, old_values, old_objective = rowwise_solution(lp)
        assert status == old_status == "Optimal"
        assert values is not None and old_values is not None
        assert values.tobytes() == old_values.tobytes()
        assert objective_value == old_objective


def test_the_matrix_is_built_once_per_structure() -> None:
    fleet, weights = FLEETS["ramped"], preset("mixed", 0.5)
    first = build_lp(fleet, forecast(1), weights, 500.0)
    second = build_lp(fleet, forecast(2), weights, 300.0, -120.0)
    assert second.matrix is first.matrix
    assert second.row_lower[0] == second.row_upper[0] == 300.0  # the bounds are its own
    assert second.row_lower[96] == -120.0 - 300.0
    other = build_lp(fleet, forecast(1, steps=48), weights, 500.0)
    assert other.matrix is not first.matrix and other.matrix.key != first.matrix.key
