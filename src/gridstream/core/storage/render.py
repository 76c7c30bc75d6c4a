"""A PNG of a storage plan for the dashboard: setpoints, SoC and (optionally) CO2 intensity."""

from __future__ import annotations

import io

import numpy as np

from gridstream.core.storage.horizon import HorizonForecast
from gridstream.core.storage.schedule import ScheduleResult


def render_schedule_png(
    result: ScheduleResult, forecast: HorizonForecast | None = None, dpi: int = 100
) -> bytes:
    """Render ``result`` as PNG bytes (matplotlib, Agg backend, no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    hours = np.arange(result.steps) * 0.25
    fig = Figure(figsize=(8, 4), dpi=dpi)
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.bar(hours, result.discharge_mw, width=0.25, color="tab:green", label="discharge MW")
    top.bar(hours, -result.charge_mw, width=0.25, color="tab:blue", label="charge MW")
    top.set_ylabel("MW")
    state = "FALLBACK (hold): " + result.reason if result.fallback else result.status
    top.set_title(
        f"{result.region} storage plan, objective {result.objective}: {state}", fontsize=9
    )
    top.legend(loc="upper right", fontsize=7)
    bottom.plot(hours, result.soc_mwh, color="black", label="SoC MWh")
    bottom.set_ylabel("MWh")
    bottom.set_xlabel("hours ahead")
    co2 = forecast.get("co2") if forecast is not None else None
    if co2 is not None and len(co2) == result.steps:
        twin = bottom.twinx()
        twin.fill_between(hours, co2.p10, co2.p90, color="tab:red", alpha=0.2)
        twin.plot(hours, co2.p50, color="tab:red", lw=1, label="CO2 P50 g/kWh")
        twin.set_ylabel("gCO2/kWh")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
