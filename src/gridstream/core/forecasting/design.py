"""The model's input rows: one per (origin, lead), built from the shared feature pipeline.

Multi-horizon design: ONE model per series and quantile with the lead time (1..96 slots) as a
feature, trained on (origin, lead) pairs subsampled uniformly over origins and leads. Compared
with 96 direct models this shares statistical strength between neighbouring leads (the
quarter-hour-ahead and the day-ahead problems differ smoothly), keeps 3 models per series
instead of 288, trains in a fixed budget whatever the horizon, and never feeds predictions
back as inputs (no recursive error growth). Lead-specific information enters through
*target-relative* features: the same quarter-hour yesterday and last week relative to the
target time (``prof_d1_h`` / ``prof_w1_h``) and the calendar of the target time.

Levels are expressed relative to the last observation (``value``). The model learns the
residual to a reference, ``y(origin + lead) − reference``, where the reference is the last
value (``persistence``, for wind and CO2) or the last value moved along the average daily
shape of the past week (``daily_shape``, for demand; see :func:`reference`), divided by
the typical size of that residual at the lead. Without this scaling the long leads' large
errors dominate the loss and the short leads are under-fitted; with it every lead weighs the
same, and quantiles stay quantiles (scaling by a positive per-lead constant commutes with
them). The target is scale-free across regions and years (demand grows, wind capacity grows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridstream.core.features.calendar import CALENDAR_FEATURES, calendar_features
from gridstream.core.features.grid import SLOT_MINUTES
from gridstream.core.features.pipeline import CROSS_FEATURES
from gridstream.core.features.window_features import LAGS, LONG_MEAN_WINDOW, ROLL_WINDOWS

_RELATIVE = (
    [f"lag_{k}" for k in LAGS]
    + [f"roll_{s}_{k}" for k in ROLL_WINDOWS for s in ("mean", "min", "max")]
    + [f"roll_mean_{LONG_MEAN_WINDOW}", "lag_dmean"]
)
_RAW = ["value"] + [f"roll_std_{k}" for k in ROLL_WINDOWS] + ["since_gap_min", *CROSS_FEATURES]
TARGET_FEATURES = (
    "tgt_d1",
    "tgt_w1",
    "tgt_dmean",
    "tgt_d1_shape",
    "tgt_w1_shape",
    "tgt_dmean_shape",
    "tgt_dw_diff",
)


def model_feature_names() -> list[str]:
    """Columns of the model matrix, in the order the models are trained with."""
    return (
        ["lead"]
        + [f"rel_{name}" for name in _RELATIVE]
        + _RAW
        + list(TARGET_FEATURES)
        + list(CALENDAR_FEATURES)
        + ["origin_quarter_of_day"]
    )


def model_matrix(
    features: pd.DataFrame, origin_ts: pd.DatetimeIndex, rows: np.ndarray, leads: np.ndarray
) -> pd.DataFrame:
    """Model inputs for origins ``features.iloc[rows]`` at ``leads`` (slots ahead, 1..96).

    ``features`` has the columns of :func:`gridstream.core.features.feature_names`, one row
    per origin; ``origin_ts`` are the UTC times of those rows.
    """
    value = features["value"].to_numpy(np.float64)[rows]
    cols: dict[str, np.ndarray] = {"lead": leads.astype(np.float64)}
    for name in _RELATIVE:
        cols[f"rel_{name}"] = features[name].to_numpy(np.float64)[rows] - value
    for name in _RAW:
        cols[name] = features[name].to_numpy(np.float64)[rows]
    d1 = _pick(features, "prof_d1_", rows, leads)
    w1 = _pick(features, "prof_w1_", rows, leads)
    dmean = _pick(features, "prof_dmean_", rows, leads)
    lag_d1 = features["lag_96"].to_numpy(np.float64)[rows]
    lag_w1 = features["lag_672"].to_numpy(np.float64)[rows]
    cols["tgt_d1"] = d1 - value
    cols["tgt_w1"] = w1 - value
    cols["tgt_dmean"] = dmean - value
    cols["tgt_d1_shape"] = d1 - lag_d1
    cols["tgt_dmean_shape"] = dmean - features["lag_dmean"].to_numpy(np.float64)[rows]
    cols["tgt_w1_shape"] = w1 - lag_w1
    cols["tgt_dw_diff"] = d1 - w1
    origins = origin_ts[rows]
    targets = origins + pd.to_timedelta(leads * SLOT_MINUTES, unit="min")
    cols.update(calendar_features(pd.DatetimeIndex(targets)))
    cols["origin_quarter_of_day"] = calendar_features(pd.DatetimeIndex(origins))["quarter_of_day"]
    return pd.DataFrame(cols)[model_feature_names()]


REFERENCES = ("persistence", "daily_shape")


def reference(
    features: pd.DataFrame, rows: np.ndarray, leads: np.ndarray, kind: str = "daily_shape"
) -> np.ndarray:
    """The reference level: the last value, plus for ``daily_shape`` the mean change from the
    origin's to the target's quarter-hour over the previous 7 days."""
    value: np.ndarray = features["value"].to_numpy(np.float64)[rows]
    if kind == "persistence":
        return value
    shape = (
        _pick(features, "prof_dmean_", rows, leads)
        - features["lag_dmean"].to_numpy(np.float64)[rows]
    )
    ref: np.ndarray = value + np.nan_to_num(shape, nan=0.0)
    return ref


def _pick(features: pd.DataFrame, prefix: str, rows: np.ndarray, leads: np.ndarray) -> np.ndarray:
    """``features[prefix + str(lead)]`` for each (row, lead) pair."""
    names = [f"{prefix}{h}" for h in range(1, 97)]
    block = features[names].to_numpy(np.float64)
    picked: np.ndarray = block[rows, leads.astype(np.int64) - 1]
    return picked
