"""The model's input rows: one per (origin, lead), built from the shared feature pipeline.

Multi-horizon design: ONE model per series and quantile with the lead time as a feature,
trained on (origin, lead) pairs subsampled over origins at a fixed set of ANCHOR leads
(15 min, 30 min, 1 h, 1.5 h, 2 h, 3 h, 4 h, then every 2 h to 24 h; ``ANCHOR_LEADS``).
Compared with 96 direct models this shares statistical strength between neighbouring leads
(the quarter-hour-ahead and the day-ahead problems differ smoothly), keeps 3 models per series
instead of 288, trains in a fixed budget whatever the horizon, and never feeds predictions
back as inputs (no recursive error growth). Forecasts at other leads interpolate the model's
*scaled residual* linearly between the two neighbouring anchors and add the reference of the
lead itself, so the daily shape is still followed slot by slot; this cuts the trees
evaluated per 96-step trajectory by about five while the residual (what the trees add to
the reference) varies slowly with the lead. Lead-specific information enters through
*target-relative* features: the same quarter-hour yesterday and last week relative to the
target time (``prof_d1_h`` / ``prof_w1_h``) and the calendar of the target time.

Levels are expressed relative to the last observation (``value``). The model learns the
residual to a reference, ``y(origin + lead) − reference``, where the reference is the last
value (``persistence``, for wind and CO2) or the last value moved along the average daily
shape of the past week (``daily_shape``), or, for demand, along the average of that shape and
last week's own change from the origin's to the target's time (``week_blend``: it carries
weekday/weekend transitions, which the 7-day mean blurs; chosen on a 2021 validation year,
where it cut the 24 h MAPE by about 3 %; see :func:`reference_of`), divided by
the typical size of that residual at the lead. Without this scaling the long leads' large
errors dominate the loss and the short leads are under-fitted; with it every lead weighs the
same, and quantiles stay quantiles (scaling by a positive per-lead constant commutes with
them). The target is scale-free across regions and years (demand grows, wind capacity grows).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import pandas as pd

from gridstream.core.features.calendar import CALENDAR_FEATURES, calendar_block
from gridstream.core.features.grid import HORIZON_STEPS, SLOT_MS
from gridstream.core.features.pipeline import CROSS_FEATURES, feature_names
from gridstream.core.features.window_features import LAGS, LONG_MEAN_WINDOW, ROLL_WINDOWS

ANCHOR_LEADS = (1, 2, 4, 6, 8, 12, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96)
"""Leads (slots) the models are trained and evaluated at; other leads interpolate."""

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
LEVEL_FEATURES = ("lvl_day_vs_week", "lvl_w1_vs_dmean")
"""Level shifts: the last 24 h against the last week, and the coming day last week against
the average day of the last week (a weekday/weekend or holiday effect)."""


def model_feature_names() -> list[str]:
    """Columns of the model matrix, in the order the models are trained with."""
    return (
        ["lead"]
        + [f"rel_{name}" for name in _RELATIVE]
        + _RAW
        + list(TARGET_FEATURES)
        + list(LEVEL_FEATURES)
        + list(CALENDAR_FEATURES)
        + ["origin_quarter_of_day"]
    )


@lru_cache(maxsize=1)
def _columns() -> dict[str, int]:
    return {name: i for i, name in enumerate(feature_names())}


@lru_cache(maxsize=1)
def _column_groups() -> tuple[np.ndarray, np.ndarray, int, int, int, int, int, int, int]:
    col = _columns()
    rel = np.array([col[n] for n in _RELATIVE])
    raw = np.array([col[n] for n in _RAW])
    return (
        rel,
        raw,
        col["value"],
        col["prof_d1_1"],
        col["prof_w1_1"],
        col["prof_dmean_1"],
        col["lag_96"],
        col["lag_672"],
        col["lag_dmean"],
    )


def model_inputs(
    feats: np.ndarray, origin_slots: np.ndarray, rows: np.ndarray, leads: np.ndarray
) -> np.ndarray:
    """Model inputs (columns of :func:`model_feature_names`) as one float array.

    ``feats`` holds pipeline features (columns of ``feature_names()``), one row per origin;
    ``origin_slots`` the UTC 15-minute slot index of each origin row; pairs are
    ``(feats[rows], leads)`` with leads in slots (1..96).
    """
    _rel, _raw, c_value, c_d1, c_w1, c_dm, c_lag96, c_lag672, c_lagdm = _column_groups()
    leads = leads.astype(np.int64)
    if len(rows) and np.all(np.diff(rows) >= 0):
        unique, inverse = _sorted_unique(rows)
    else:
        unique, inverse = np.unique(rows, return_inverse=True)
    per_origin = _origin_block(feats[unique], origin_slots[unique])
    value = feats[rows, c_value]
    out = np.empty((len(rows), len(model_feature_names())))
    out[:, 0] = leads
    width = per_origin.shape[1] - 1
    out[:, 1 : 1 + _N_ORIGIN] = per_origin[inverse, :_N_ORIGIN]
    c = 1 + _N_ORIGIN
    h = leads - 1
    d1 = feats[rows, c_d1 + h]
    w1 = feats[rows, c_w1 + h]
    dmean = feats[rows, c_dm + h]
    out[:, c] = d1 - value
    out[:, c + 1] = w1 - value
    out[:, c + 2] = dmean - value
    out[:, c + 3] = d1 - feats[rows, c_lag96]
    out[:, c + 4] = w1 - feats[rows, c_lag672]
    out[:, c + 5] = dmean - feats[rows, c_lagdm]
    out[:, c + 6] = d1 - w1
    c += len(TARGET_FEATURES)
    out[:, c : c + len(LEVEL_FEATURES)] = per_origin[inverse, _N_ORIGIN:width]
    c += len(LEVEL_FEATURES)
    slots = origin_slots[rows]
    out[:, c : c + len(CALENDAR_FEATURES)] = calendar_block(slots + leads)
    out[:, c + len(CALENDAR_FEATURES)] = per_origin[inverse, width]
    return out


_N_ORIGIN = len(_RELATIVE) + len(_RAW)

#: distinct origins featurised at a time by :func:`pair_inputs`
ORIGIN_CHUNK = 4096


def pair_inputs(
    features_at: Callable[[np.ndarray], np.ndarray],
    origin_slots: np.ndarray,
    rows: np.ndarray,
    leads: np.ndarray,
    kind: str,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`model_inputs` and :func:`reference_of` for many pairs, without the whole
    feature matrix: ``features_at(origins)`` gives the pipeline features of sorted distinct
    origin rows, asked for ``ORIGIN_CHUNK`` origins at a time. Rows of the result follow the
    pairs' order and equal one pass over the full matrix (every column is computed per row).
    """
    order = np.argsort(rows, kind="stable")
    ordered = rows[order]
    unique = np.unique(ordered)
    out = np.empty((len(rows), len(model_feature_names())), dtype=np.float32)
    ref = np.empty(len(rows))
    for start in range(0, len(unique), ORIGIN_CHUNK):
        origins = unique[start : start + ORIGIN_CHUNK]
        lo = int(np.searchsorted(ordered, origins[0], side="left"))
        hi = int(np.searchsorted(ordered, origins[-1], side="right"))
        pick = order[lo:hi]
        feats = features_at(origins)
        local = np.searchsorted(origins, ordered[lo:hi])
        out[pick] = model_inputs(feats, origin_slots[origins], local, leads[pick])
        ref[pick] = reference_of(feats, local, leads[pick], kind)
    return out, ref


def _origin_block(base: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """Per-origin columns: relative lags/rolls, raw values, level shifts, origin quarter."""
    rel, raw, c_value, _d1, c_w1, c_dm, _l96, _l672, _lagdm = _column_groups()
    col = _columns()
    value = base[:, c_value]
    out = np.empty((base.shape[0], _N_ORIGIN + len(LEVEL_FEATURES) + 1))
    out[:, : len(rel)] = base[:, rel] - value[:, None]
    out[:, len(rel) : _N_ORIGIN] = base[:, raw]
    c = _N_ORIGIN
    out[:, c] = base[:, col["roll_mean_96"]] - base[:, col[f"roll_mean_{LONG_MEAN_WINDOW}"]]
    out[:, c + 1] = _mean(base[:, c_w1 : c_w1 + HORIZON_STEPS]) - _mean(
        base[:, c_dm : c_dm + HORIZON_STEPS]
    )
    quarter = CALENDAR_FEATURES.index("quarter_of_day")
    out[:, c + 2] = calendar_block(slots)[:, quarter]
    return out


def _sorted_unique(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(rows, return_inverse=True)`` for rows already in ascending order."""
    new = np.empty(len(rows), dtype=bool)
    new[0] = True
    new[1:] = rows[1:] != rows[:-1]
    inverse = np.cumsum(new) - 1
    return rows[new], inverse


def _mean(block: np.ndarray) -> np.ndarray:
    known = ~np.isnan(block)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean: np.ndarray = np.where(known, block, 0.0).sum(axis=1) / known.sum(axis=1)
    return mean


def feature_array(features: pd.DataFrame) -> np.ndarray:
    """The pipeline features as a float64 array in ``feature_names()`` order: a view of the
    frame when it already has those columns (a year of 322 features is 90 MB not copied)."""
    names = feature_names()
    frame = features if list(features.columns) == names else features[names]
    array: np.ndarray = frame.to_numpy(np.float64)
    return array


def origin_slots_of(origin_ts: pd.DatetimeIndex) -> np.ndarray:
    """UTC 15-minute slot index of each timestamp."""
    slots: np.ndarray = np.asarray(origin_ts.as_unit("ms").asi8, dtype=np.int64) // SLOT_MS
    return slots


def model_matrix(
    features: pd.DataFrame, origin_ts: pd.DatetimeIndex, rows: np.ndarray, leads: np.ndarray
) -> pd.DataFrame:
    """Model inputs for origins ``features.iloc[rows]`` at ``leads`` (slots ahead, 1..96).

    ``features`` has the columns of :func:`gridstream.core.features.feature_names`, one row
    per origin; ``origin_ts`` are the UTC times of those rows.
    """
    feats = feature_array(features)
    inputs = model_inputs(feats, origin_slots_of(origin_ts), rows, leads)
    return pd.DataFrame(inputs, columns=model_feature_names())


REFERENCES = ("persistence", "daily_shape", "week_blend")


def reference_of(
    feats: np.ndarray, rows: np.ndarray, leads: np.ndarray, kind: str = "daily_shape"
) -> np.ndarray:
    """The reference level of pairs ``(feats[rows], leads)``: the last value, plus for
    ``daily_shape`` the mean change from the origin's to the target's quarter-hour over the
    previous 7 days, and for ``week_blend`` the average of that change and the same change
    one week ago. ``feats`` has the columns of ``feature_names()``."""
    _rel, _raw, c_value, _d1, c_w1, c_dm, _l96, c_l672, c_lagdm = _column_groups()
    value: np.ndarray = feats[rows, c_value]
    if kind == "persistence":
        return value
    shape = feats[rows, c_dm + leads.astype(np.int64) - 1] - feats[rows, c_lagdm]
    shape = np.nan_to_num(shape, nan=0.0)
    if kind == "week_blend":
        week = feats[rows, c_w1 + leads.astype(np.int64) - 1] - feats[rows, c_l672]
        share = 0.5
        shape = np.where(np.isnan(week), shape, (1.0 - share) * shape + share * week)
    ref: np.ndarray = value + shape
    return ref


def anchor_weights(leads: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each lead, the anchor below, the anchor above and the weight of the one above."""
    anchors = np.asarray(ANCHOR_LEADS, dtype=np.int64)
    upper_pos = np.clip(np.searchsorted(anchors, leads, side="left"), 0, len(anchors) - 1)
    upper = anchors[upper_pos]
    lower = np.where(upper == leads, upper, anchors[np.maximum(upper_pos - 1, 0)])
    span = np.maximum(upper - lower, 1)
    weight = np.where(upper == lower, 1.0, (leads - lower) / span)
    return lower, upper, weight
