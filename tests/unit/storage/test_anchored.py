"""Anchored feedback shifts a forecast by the error it made on the last known step."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridstream.core.storage.forecast_sources import Anchored, ErrorScaled, PerfectForesight
from gridstream.core.storage.horizon import HorizonForecast, Quantiles
from gridstream.core.storage.replay_data import ReplayData


def ramp_data() -> ReplayData:
    index = pd.date_range("2022-03-01", periods=96 * 3, freq="15min", tz="UTC")
    rising = 100.0 + 5.0 * np.arange(len(index), dtype=np.float64)  # a ramp: 5 per step
    return ReplayData(index, {"demand": rising, "wind": rising, "co2": rising}, {})


def test_a_ramp_is_not_mistaken_for_an_error() -> None:
    # a perfect forecast of a ramping series has no error to correct
    data = ramp_data()
    fc = Anchored(PerfectForesight()).horizon(data, 150, 8)
    assert fc.series["co2"].p50 == pytest.approx(data.series["co2"][150:158])


class Flat:
    """Forecasts 100 for every step, with a band of +-10."""

    name = "flat"

    def horizon(self, data: ReplayData, at: int, steps: int) -> HorizonForecast:
        n = min(steps, len(data) - at)
        q = Quantiles.of(np.full(n, 90.0), np.full(n, 100.0), np.full(n, 110.0))
        return HorizonForecast(0, {"co2": q})


def test_the_last_error_is_added_and_fades_with_lead_time() -> None:
    # the flat forecast said 100 for step 149, which was 845: the anchor adds that 745,
    # fading as exp(-lead / tau); the band keeps its width
    data = ramp_data()
    tau = 4.0
    anchored = Anchored(Flat(), tau_steps=tau).horizon(data, 150, 8).series["co2"]
    expected = 100.0 + 745.0 * np.exp(-np.arange(8) / tau)
    assert anchored.p50 == pytest.approx(expected)
    assert anchored.p90 - anchored.p10 == pytest.approx(np.full(8, 20.0))


def test_error_scaled_moves_every_quantile_toward_the_actuals() -> None:
    data = ramp_data()
    inner = Flat()
    plain = inner.horizon(data, 200, 24)
    half = ErrorScaled(inner, 0.5).horizon(data, 200, 24)
    exact = ErrorScaled(inner, 0.0).horizon(data, 200, 24)
    actual = data.series["co2"][200:224]
    for name in ("p10", "p50", "p90"):
        mine, theirs = getattr(half.series["co2"], name), getattr(plain.series["co2"], name)
        np.testing.assert_allclose(mine - actual, 0.5 * (theirs - actual))
        np.testing.assert_allclose(getattr(exact.series["co2"], name), actual)
    assert ErrorScaled(inner, 0.5).name == "flat_errors_x0.5"
    with pytest.raises(ValueError, match="error scale"):
        ErrorScaled(inner, -0.1)
