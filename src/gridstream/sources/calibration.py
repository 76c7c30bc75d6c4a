"""Fitting the simulator's calibration on recorded all-island data.

``python -m gridstream.sources.calibration DATA_DIR [OUT.json]`` refits ``calibration.json``
(shipped in this package) from the recorded ALL demand, wind and CO2-intensity files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridstream.sources.local_time import IRISH_TZ

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")


def _ar1(x: np.ndarray[Any, Any]) -> tuple[float, float]:
    phi = float(np.corrcoef(x[:-1], x[1:])[0, 1])
    sigma = float(np.std(x[1:] - phi * x[:-1]))
    return phi, sigma


def fit_calibration(frame: pd.DataFrame) -> dict[str, Any]:
    """Parameters from a ``ts, region, field, value`` frame (see ``recorded.read_frame``)."""
    wide = frame[frame["region"] == "ALL"].pivot_table(index="ts", columns="field", values="value")
    wide = wide.dropna(subset=["SYSTEM_DEMAND", "WIND_ACTUAL", "CO2_INTENSITY"]).asfreq("15min")
    local = pd.DatetimeIndex(wide.index).tz_convert(IRISH_TZ)
    demand = wide["SYSTEM_DEMAND"]
    mean = float(demand.mean())
    month = demand.groupby(local.month).mean() / mean
    weekday = demand.groupby(local.day_of_week).mean() / mean
    slot = local.hour * 4 + local.minute // 15
    weekend = local.day_of_week >= 5
    base = (
        mean * month.reindex(local.month).to_numpy() * weekday.reindex(local.day_of_week).to_numpy()
    )
    rel = demand / base
    profile_wd = rel[~weekend].groupby(slot[~weekend]).mean()
    profile_we = rel[weekend].groupby(slot[weekend]).mean()
    profile = np.where(
        weekend, profile_we.reindex(slot).to_numpy(), profile_wd.reindex(slot).to_numpy()
    )
    resid = (demand / (base * profile) - 1.0).interpolate().fillna(0.0).to_numpy()
    d_phi, d_sigma = _ar1(resid)
    wind = wide["WIND_ACTUAL"].interpolate()
    capacity = float(wind.quantile(0.995))
    cf = np.clip(wind / capacity, 0.001, 0.999)
    z = np.log(cf / (1 - cf))
    w_month = z.groupby(local.month).mean()
    w_phi, w_sigma = _ar1((z - w_month.reindex(local.month).to_numpy()).to_numpy())
    share = (wind / demand).to_numpy()
    co2 = wide["CO2_INTENSITY"].interpolate().to_numpy()
    ok = np.isfinite(share) & np.isfinite(co2)
    slope, intercept = np.polyfit(share[ok], co2[ok], 1)
    co2_sigma = float(np.std(co2[ok] - (intercept + slope * share[ok])))
    return {
        "demand_mean_mw": round(mean, 1),
        "demand_month_factor": [round(float(v), 4) for v in month.to_numpy()],
        "demand_weekday_factor": [round(float(v), 4) for v in weekday.to_numpy()],
        "demand_profile_weekday": [round(float(v), 4) for v in profile_wd.to_numpy()],
        "demand_profile_weekend": [round(float(v), 4) for v in profile_we.to_numpy()],
        "demand_ar_phi": round(d_phi, 4),
        "demand_ar_sigma": round(d_sigma, 5),
        "wind_capacity_mw": round(capacity, 1),
        "wind_month_logit_mean": [round(float(v), 4) for v in w_month.to_numpy()],
        "wind_ar_phi": round(w_phi, 5),
        "wind_ar_sigma": round(w_sigma, 5),
        "co2_intercept": round(float(intercept), 2),
        "co2_slope_per_wind_share": round(float(slope), 2),
        "co2_sigma": round(co2_sigma, 2),
    }


def load_calibration(path: Path = CALIBRATION_FILE) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def main(argv: list[str]) -> None:
    from gridstream.sources.recorded import list_files, read_frame

    root = Path(argv[0])
    out = Path(argv[1]) if len(argv) > 1 else CALIBRATION_FILE
    files = list_files(root, regions=["ALL"], areas=["demandactual", "windactual", "co2intensity"])
    out.write_text(json.dumps(fit_calibration(read_frame(files)), indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
