"""Recorded actuals on one 15-minute grid, the input of storage backtests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridstream.core.storage.horizon import FloatArray
from gridstream.errors import ValidationError

# recorded field -> optimiser series name
FIELDS = {
    "SYSTEM_DEMAND": "demand",
    "WIND_ACTUAL": "wind",
    "CO2_INTENSITY": "co2",
    "SNSP_ALL": "snsp",
}
MAX_FILL_STEPS = 16


@dataclass(frozen=True)
class ReplayData:
    """Actual series by name on ``index`` (UTC, 15-minute); short gaps interpolated."""

    index: pd.DatetimeIndex
    series: dict[str, FloatArray]
    filled_steps: dict[str, int]

    def __len__(self) -> int:
        return len(self.index)

    def position(self, ts: pd.Timestamp) -> int:
        """The first grid position at or after ``ts``."""
        return int(self.index.searchsorted(ts))


def replay_data_from_frame(frame: pd.DataFrame, region: str) -> ReplayData:
    """Pivot ``ts, region, field, value`` rows of one region onto a complete 15-minute grid.

    Gaps up to 4 hours are interpolated in time; longer gaps are filled with the value of the
    same time on the previous day, then the nearest value, and counted in ``filled_steps``.
    """
    rows = frame[(frame["region"] == region) & frame["field"].isin(list(FIELDS))]
    if rows.empty:
        raise ValidationError(
            f"no demand/wind/CO2 readings for region {region!r}; check --data and --region"
        )
    wide = rows.pivot_table(index="ts", columns="field", values="value", aggfunc="last")
    start, end = wide.index.min().floor("15min"), wide.index.max().ceil("15min")
    grid = pd.date_range(start, end, freq="15min", tz="UTC")
    wide = wide.reindex(wide.index.union(grid)).sort_index()
    wide = wide.interpolate(method="time", limit=MAX_FILL_STEPS, limit_area="inside")
    wide = wide.reindex(grid)
    series: dict[str, FloatArray] = {}
    filled: dict[str, int] = {}
    for field, name in FIELDS.items():
        if field not in wide.columns:
            continue
        col = wide[field]
        missing = int(col.isna().sum())
        col = col.fillna(col.shift(96)).ffill().bfill()
        series[name] = col.to_numpy(dtype=np.float64)
        filled[name] = missing
    for needed in ("demand", "wind", "co2"):
        if needed not in series:
            raise ValidationError(f"recorded data for {region} has no {needed} series")
    return ReplayData(index=grid, series=series, filled_steps=filled)
