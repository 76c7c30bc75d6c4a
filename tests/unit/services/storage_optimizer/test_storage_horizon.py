"""The optimiser's horizon: forecasts read onto one grid, each forecast's steps read once."""

from __future__ import annotations

import numpy as np
import pytest

from gridstream.errors import ValidationError
from gridstream.schemas.forecast_pb2 import Forecast, ForecastStep
from gridstream.services.storage_optimizer.messages import (
    StepTables,
    _quantiles_on_grid,
    horizon_from_forecasts,
)

T0 = 1_656_633_600_000
STEP = 900_000


def _forecast(field: str, issue: int, level: float, shuffled: bool = False) -> Forecast:
    msg = Forecast(
        forecast_id=f"ALL/{field}@{issue}", series_id=f"ALL/{field}", field=field, region="ALL"
    )
    msg.issue_time_ms = issue
    order = np.random.default_rng(issue).permutation(96) if shuffled else np.arange(96)
    for k in order + 1:
        msg.steps.append(
            ForecastStep(
                target_time_ms=issue + int(k) * STEP,
                p10=level + k - 5.0,
                p50=level + float(k),
                p90=level + k + 5.0,
            )
        )
    return msg


def _same(a: object, b: object) -> None:
    for name in ("co2", "demand"):
        qa, qb = a.series[name], b.series[name]  # type: ignore[attr-defined]
        for part in ("p10", "p50", "p90"):
            assert np.array_equal(getattr(qa, part), getattr(qb, part))
    assert a.start_ms == b.start_ms and a.ids == b.ids  # type: ignore[attr-defined]


def test_a_cached_step_table_gives_the_same_horizon_and_is_reread_for_a_new_forecast() -> None:
    cache: StepTables = {}
    older = {"co2": _forecast("CO2_INTENSITY", T0, 300.0, shuffled=True)}
    older["demand"] = _forecast("SYSTEM_DEMAND", T0 + STEP, 4000.0)
    first = horizon_from_forecasts(older, cache=cache)
    _same(first, horizon_from_forecasts(older))
    assert first.start_ms == T0 + 2 * STEP  # the newest forecast's first target
    # the steps were sorted by time: the shuffled forecast reads as the ordered one
    assert np.array_equal(first.series["co2"].p50[:95], 300.0 + np.arange(2, 97))
    kept = cache["co2"][1]
    newer = {**older, "co2": _forecast("CO2_INTENSITY", T0 + 2 * STEP, 200.0)}
    second = horizon_from_forecasts(newer, cache=cache)
    _same(second, horizon_from_forecasts(newer))
    assert cache["co2"][0] is newer["co2"] and cache["co2"][1] is not kept
    assert cache["demand"][0] is older["demand"]  # unchanged: read once, reused
    assert second.series["co2"].p50[0] == 201.0


def test_a_forecast_without_steps_is_refused() -> None:
    empty = Forecast(forecast_id="ALL/CO2_INTENSITY@1", field="CO2_INTENSITY", issue_time_ms=1)
    with pytest.raises(ValidationError, match="no steps"):
        horizon_from_forecasts({"co2": empty}, cache={})


def test_a_table_on_the_grid_reads_as_interpolating_it() -> None:
    rng = np.random.default_rng(7)
    grid = T0 + STEP * np.arange(96, dtype=np.int64)
    table = np.column_stack([grid.astype(np.float64), rng.normal(0, 1e3, (96, 3))])
    table[5, 1:] = [0.0, -0.0, 1e-300]
    on_grid = _quantiles_on_grid(table, grid)
    columns = [np.interp(grid.astype(np.float64), table[:, 0], table[:, k]) for k in (1, 2, 3)]
    expected = np.sort(np.vstack(columns), axis=0)
    shifted = _quantiles_on_grid(table, grid + STEP // 2)  # between the steps: interpolated
    for j, part in enumerate(("p10", "p50", "p90")):
        assert getattr(on_grid, part).tobytes() == expected[j].tobytes()
        assert not np.array_equal(getattr(shifted, part), expected[j])
