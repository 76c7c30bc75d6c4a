"""The simulator: deterministic, on the grid, and shaped like the real grid it was fitted on."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import numpy as np

from gridstream.core.cleaning import Cleaner, SeriesState
from gridstream.sources.simulator import Simulator

START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2024, 1, 29, tzinfo=UTC)


def test_same_seed_same_readings_other_seed_differs() -> None:
    a = list(Simulator(7).readings(START, datetime(2024, 1, 2, tzinfo=UTC)))
    b = list(Simulator(7).readings(START, datetime(2024, 1, 2, tzinfo=UTC)))
    c = list(Simulator(8).readings(START, datetime(2024, 1, 2, tzinfo=UTC)))
    assert a == b and len(a) == 96 * 3
    assert [r.value for r in a] != [r.value for r in c]


def test_shape_and_co2_wind_relation_and_all_readings_clean() -> None:
    series: dict[str, list[float]] = defaultdict(list)
    cleaner, states = Cleaner(), defaultdict(SeriesState)
    for r in Simulator(3).readings(START, END):
        assert r.ts_ms % 900_000 == 0
        cleaner.process(r, states[r.series_id])  # raises if any reading is implausible
        series[r.field].append(r.value)
    demand = np.array(series["SYSTEM_DEMAND"]).reshape(-1, 96)
    # evening peak well above the night trough (real January ratio is about 1.5)
    assert demand[:, 70:76].mean() > 1.3 * demand[:, 12:20].mean()
    # weekdays (Mon 1 Jan ...) above weekends
    day_means = demand.mean(axis=1)
    weekend = [i for i in range(28) if i % 7 in (5, 6)]
    weekday = [i for i in range(28) if i % 7 not in (5, 6)]
    assert day_means[weekday].mean() > day_means[weekend].mean()
    wind_share = np.array(series["WIND_ACTUAL"]) / np.array(series["SYSTEM_DEMAND"])
    assert np.corrcoef(wind_share, series["CO2_INTENSITY"])[0, 1] < -0.5


def test_fit_calibration_on_real_year() -> None:
    from gridstream.sources.calibration import fit_calibration
    from gridstream.sources.recorded import list_files, read_frame

    from .conftest import RECORDED, need

    files = list_files(
        need(RECORDED),
        regions=["ALL"],
        areas=["demandactual", "windactual", "co2intensity"],
        years=[2022],
    )
    cal = fit_calibration(read_frame(files))
    assert 3000 < cal["demand_mean_mw"] < 6000
    assert cal["demand_month_factor"][0] > cal["demand_month_factor"][6]  # Jan above Jul
    assert cal["co2_slope_per_wind_share"] < 0  # more wind, cleaner power
    assert len(cal["demand_profile_weekday"]) == 96 and 0.9 < cal["wind_ar_phi"] < 1.0
