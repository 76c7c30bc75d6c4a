"""PNGs: a storage plan for the dashboard (setpoints, SoC and optionally CO2 intensity), and
a storage backtest report (benefit per month, the forecast-skill sweep)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np

from gridstream.core.storage.horizon import HorizonForecast
from gridstream.core.storage.schedule import ScheduleResult


def render_schedule_png(
    result: ScheduleResult, forecast: HorizonForecast | None = None, dpi: int = 100
) -> bytes:
    """Render ``result`` as PNG bytes (matplotlib, Agg backend, no display needed)."""
    hours = np.arange(result.steps) * 0.25
    fig = _figure(8, dpi)
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
    return _png(fig)


def _figure(width: float, dpi: int) -> Any:
    """A 4-inch-high matplotlib figure drawn by the Agg backend (no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, 4), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    """``fig`` laid out tightly and encoded as PNG bytes."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


#: strategies of a backtest report in plotting order, with their colours
_STRATEGY_COLOURS = {
    "perfect_foresight": "tab:gray",
    "forecast_mpc": "tab:green",
    "forecast_mpc_nominal": "tab:olive",
    "rule_baseline": "tab:red",
}


def render_backtest_png(report: Mapping[str, Any], dpi: int = 100) -> bytes:
    """A storage backtest report (``run_backtest``) as PNG bytes: the primary benefit per
    month and strategy and, when the report has a forecast-skill sweep, the forecast MPC's
    share of perfect foresight against the forecasts' error scale."""
    primary = str(report["primary_metric"])
    skill = list(report.get("forecast_skill") or [])
    fig = _figure(11 if skill else 8, dpi)
    axes = fig.subplots(1, 2 if skill else 1, squeeze=False)[0]
    months_axis = axes[0]
    monthly = report["monthly_benefit"]
    months = sorted({m for runs in monthly.values() for m in runs})
    x = np.arange(len(months))
    names = [n for n in _STRATEGY_COLOURS if n in monthly]
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        values = [monthly[name].get(m, {}).get(primary, np.nan) for m in months]
        months_axis.bar(
            x + (i - (len(names) - 1) / 2) * width,
            values,
            width=width,
            color=_STRATEGY_COLOURS[name],
            label=name.replace("_", " "),
        )
    months_axis.axhline(0.0, color="black", lw=0.6)
    months_axis.set_xticks(x, [m[2:] for m in months], rotation=45, fontsize=7)
    months_axis.set_ylabel(primary.replace("_", " "))
    months_axis.set_title(
        f"{report['region']} storage backtest, objective {report['objective']}: per month",
        fontsize=9,
    )
    months_axis.legend(fontsize=7)
    if skill:
        _skill_panel(axes[1], report, skill, primary)
    return _png(fig)


def _skill_panel(
    axis: Any, report: Mapping[str, Any], skill: list[Mapping[str, Any]], primary: str
) -> None:
    """Ratio to perfect foresight against the error scale, with the forecasts as issued (1)
    and perfect foresight (0) as the ends."""
    points = {1.0: report["ratio_to_perfect_foresight"]["forecast_mpc"][primary], 0.0: 1.0}
    for point in skill:
        points[float(point["error_scale"])] = point["ratio_to_perfect_foresight"][primary]
    scales = sorted(s for s, r in points.items() if r is not None)
    axis.plot(scales, [points[s] for s in scales], marker="o", color="tab:green")
    axis.axhline(0.9, color="tab:red", ls="--", lw=0.8, label="90 % of perfect foresight")
    axis.set_xlabel("forecast errors x (0 = perfect foresight, 1 = as issued)")
    axis.set_ylabel("share of perfect-foresight benefit")
    axis.set_title("what better forecasts would be worth", fontsize=9)
    axis.invert_xaxis()
    axis.legend(fontsize=7)
