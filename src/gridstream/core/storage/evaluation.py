"""Realised benefit of a storage strategy on actual data, and the limit check of what ran."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gridstream.core.storage.fleet import BatteryFleet
from gridstream.core.storage.horizon import STEP_HOURS
from gridstream.core.storage.replay_data import ReplayData
from gridstream.core.storage.schedule import soc_trajectory
from gridstream.core.storage.strategies import StrategyRun


def executed_violations(fleet: BatteryFleet, run: StrategyRun, tol: float = 1e-3) -> int:
    """Executed steps that broke a power, SoC, ramp or no-simultaneous limit."""
    c, d = run.charge_mw, run.discharge_mw
    soc = soc_trajectory(fleet, run.initial_soc_mwh, c, d)
    bad = (c < -tol) | (d < -tol) | (c > fleet.charge_mw + tol) | (d > fleet.discharge_mw + tol)
    bad |= np.minimum(c, d) > tol
    bad |= (soc < fleet.soc_min_mwh - tol) | (soc > fleet.soc_max_mwh + tol)
    if fleet.ramp_mw_per_step is not None and len(c):
        jumps = np.abs(np.diff(np.concatenate([[0.0], d - c])))
        bad |= jumps > fleet.ramp_mw_per_step + tol
    return int(bad.sum())


def _frame(run: StrategyRun, data: ReplayData) -> pd.DataFrame:
    sl = slice(run.start, run.end)
    net_demand = data.series["demand"][sl] - data.series["wind"][sl]
    storage = run.discharge_mw - run.charge_mw
    return pd.DataFrame(
        {
            "co2_avoided_t": storage * data.series["co2"][sl] * STEP_HOURS / 1000.0,
            "net": net_demand,
            "net_after": net_demand - storage,
            "throughput_mwh": (run.charge_mw + run.discharge_mw) * STEP_HOURS,
        },
        index=data.index[sl],
    )


def _peak_removed(frame: pd.DataFrame) -> pd.Series:
    daily = frame[["net", "net_after"]].resample("1D").max()
    return daily["net"] - daily["net_after"]


def evaluate(fleet: BatteryFleet, run: StrategyRun, data: ReplayData) -> dict[str, Any]:
    """Tonnes CO2 avoided (discharge displaces, charging adds, at actual intensity), MW of
    daily peak net demand removed (mean over days, and of the period's highest peak)."""
    frame = _frame(run, data)
    daily_peak = _peak_removed(frame)
    solve = np.asarray(run.solve_ms) if run.solve_ms else np.zeros(1)
    usable = fleet.soc_max_mwh - fleet.soc_min_mwh
    return {
        "co2_avoided_t": round(float(frame["co2_avoided_t"].sum()), 1),
        "peak_removed_mw_daily_mean": round(float(daily_peak.mean()), 1),
        "peak_removed_mw_period": round(float(frame["net"].max() - frame["net_after"].max()), 1),
        "full_cycles": round(float(frame["throughput_mwh"].sum() / (2 * usable)), 1),
        "violations": executed_violations(fleet, run),
        "fallbacks": run.fallbacks,
        "solve_ms_p50": round(float(np.percentile(solve, 50)), 2),
        "solve_ms_p99": round(float(np.percentile(solve, 99)), 2),
        "solves": len(run.solve_ms),
    }


def monthly(run: StrategyRun, data: ReplayData) -> dict[str, dict[str, float]]:
    """Per calendar month (UTC): tonnes CO2 avoided and mean daily peak MW removed."""
    frame = _frame(run, data)
    co2 = frame["co2_avoided_t"].resample("MS").sum()
    peak = _peak_removed(frame).resample("MS").mean()
    return {
        ts.strftime("%Y-%m"): {
            "co2_avoided_t": round(float(co2[ts]), 1),
            "peak_removed_mw_daily_mean": round(float(peak.get(ts, np.nan)), 1),
        }
        for ts in co2.index
    }
