"""The 15-minute time grid every series lives on, and conversion of readings to it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridstream.core.forecast_fields import SERIES_FIELDS as SERIES_FIELDS

SLOT_MINUTES = 15
SLOT_MS = SLOT_MINUTES * 60_000
#: records per batch for services whose records are feature vectors (~300 features each):
#: bounds a batch's memory whatever the configured batch size
VECTOR_BATCH = 1000
SLOTS_PER_HOUR = 4
SLOTS_PER_DAY = 96
SLOTS_PER_WEEK = 7 * SLOTS_PER_DAY
HORIZON_STEPS = SLOTS_PER_DAY  # forecasts cover the next 24 h


def slot_of(ts_ms: int) -> int:
    """Index of the 15-minute slot that starts at ``ts_ms`` (epoch milliseconds)."""
    return ts_ms // SLOT_MS


def to_wide(history: pd.DataFrame, region: str, fields: list[str] | None = None) -> pd.DataFrame:
    """Readings of one region (``ts, region, field, value``) as a regular 15-minute grid.

    The index is every UTC slot from the first to the last reading; columns are fields;
    missing readings are NaN (gaps stay visible, nothing is interpolated).
    """
    rows = history[history["region"] == region]
    if fields is not None:
        rows = rows[rows["field"].isin(fields)]
    wide = rows.pivot_table(index="ts", columns="field", values="value", aggfunc="last")
    if wide.empty:
        return wide
    index = pd.date_range(wide.index.min(), wide.index.max(), freq=f"{SLOT_MINUTES}min")
    wide = wide.reindex(index)
    wide.index.name = "ts"
    wide.columns.name = None
    if fields is not None:
        wide = wide.reindex(columns=fields)
    return wide.astype(np.float64)


def ts_ms_index(index: pd.DatetimeIndex) -> np.ndarray:
    """Epoch milliseconds of a tz-aware DatetimeIndex (any resolution)."""
    return np.asarray(index.as_unit("ms").asi8, dtype=np.int64)
