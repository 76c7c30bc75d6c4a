"""The plan renders to a PNG image, for optimal and fallback schedules."""

from __future__ import annotations

import numpy as np

from gridstream.core.storage import (
    BatteryFleet,
    HorizonForecast,
    Quantiles,
    hold_schedule,
    plan_schedule,
    preset,
)
from gridstream.core.storage.render import render_schedule_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_render_optimal_and_hold() -> None:
    fleet = BatteryFleet(region="ALL", energy_mwh=100, charge_mw=50, discharge_mw=50)
    co2 = np.linspace(100, 400, 16)
    fc = HorizonForecast(0, {"co2": Quantiles.of(co2 - 10, co2, co2 + 10)})
    png = render_schedule_png(plan_schedule(fleet, fc, preset("co2")), fc)
    assert png.startswith(PNG_MAGIC) and len(png) > 5000
    hold = hold_schedule(fleet, 0, 16, 50.0, "co2", "solver failed")
    assert render_schedule_png(hold).startswith(PNG_MAGIC)


def test_a_backtest_report_renders_with_and_without_the_skill_sweep() -> None:
    from gridstream.core.storage.forecast_sources import SeasonalNaive
    from gridstream.core.storage.render import render_backtest_png

    from .test_backtest_report import backtest, synthetic

    data = synthetic(noise=25.0)
    plain = backtest(data, SeasonalNaive())
    swept = backtest(data, SeasonalNaive(), error_scales=(0.5,))
    small, wide = render_backtest_png(plain), render_backtest_png(swept)
    assert small.startswith(PNG_MAGIC) and wide.startswith(PNG_MAGIC)
    # the sweep adds a second panel: a wider image
    assert _png_width(wide) > _png_width(small)


def _png_width(png: bytes) -> int:
    return int.from_bytes(png[16:20], "big")  # the IHDR chunk's width field
