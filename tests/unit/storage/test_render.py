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
