"""Per-series features computed from windows of recent values, one row per origin.

Every function here takes a matrix ``windows`` of shape ``(n, WINDOW)``: row ``r`` holds the
values of the slots ending at origin ``r`` (oldest first, NaN for gaps). The stream passes one
row (its :class:`SeriesState` window), the batch passes a sliding view over a whole series,
so both compute features with the very same code.

Names (``k`` in 15-minute slots, ``h`` the lead in slots, 1..96):

* ``value``: the latest reading; ``lag_k``: the value ``k`` slots before the origin
  (15 min, 1 h, then the same quarter-hour 1..6 days and 1 week earlier);
* ``roll_{mean,std,min,max}_k``: statistics of the last ``k`` slots (gaps ignored);
* ``since_gap_min``: minutes since the last missing slot (capped at one week);
* ``prof_d1_h`` / ``prof_w1_h``: the value one day / one week before origin + ``h``, i.e. the
  same quarter-hour yesterday and last week *relative to each target time* of the horizon;
  ``prof_dmean_h``: the mean of that quarter-hour over the previous 7 days, and
  ``lag_dmean``: the mean of the origin's quarter-hour over the previous 7 days.

The work is done by :func:`window_matrix` on contiguous slices only (no fancy-indexed
``(n, 96, 7)`` blocks), so a three-year batch takes about a second.
"""

from __future__ import annotations

import numpy as np

from gridstream.core.features.grid import HORIZON_STEPS, SLOT_MINUTES, SLOTS_PER_DAY, SLOTS_PER_WEEK

LAGS = (1, 2, 3, 4, 8, 96, 97, 100, 192, 288, 384, 480, 576, 672)
ROLL_WINDOWS = (4, 16, 96)
LONG_MEAN_WINDOW = SLOTS_PER_WEEK
PROFILE_STEPS = tuple(range(1, HORIZON_STEPS + 1))
PROFILE_KINDS = ("d1", "w1", "dmean")
_DAYS = np.arange(1, 8) * SLOTS_PER_DAY


def origin_feature_names() -> list[str]:
    """Names of the per-origin scalar features, in output order."""
    names = ["value"] + [f"lag_{k}" for k in LAGS]
    for k in ROLL_WINDOWS:
        names += [f"roll_mean_{k}", f"roll_std_{k}", f"roll_min_{k}", f"roll_max_{k}"]
    names += [f"roll_mean_{LONG_MEAN_WINDOW}", "lag_dmean", "since_gap_min"]
    return names


def profile_feature_names() -> list[str]:
    """Names of the target-relative profile values (yesterday and last week), in order."""
    return [f"prof_{kind}_{h}" for kind in PROFILE_KINDS for h in PROFILE_STEPS]


def window_matrix(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features of each row of ``windows``: ``(origin, profile)`` matrices whose columns
    follow :func:`origin_feature_names` and :func:`profile_feature_names`."""
    n, width = windows.shape
    last = width - 1
    origin = np.empty((n, len(origin_feature_names())), dtype=np.float64)
    origin[:, 0] = windows[:, last]
    col = 1
    for k in LAGS:
        origin[:, col] = windows[:, last - k]
        col += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        for k in ROLL_WINDOWS:
            tail = windows[:, width - k :]
            mean = _nanmean(tail)
            origin[:, col] = mean
            origin[:, col + 1] = np.sqrt(_nanmean((tail - mean[:, None]) ** 2))
            origin[:, col + 2] = np.fmin.reduce(tail, axis=1)
            origin[:, col + 3] = np.fmax.reduce(tail, axis=1)
            col += 4
        origin[:, col] = _nanmean(windows[:, width - LONG_MEAN_WINDOW :])
        origin[:, col + 1] = _nanmean(windows[:, last - _DAYS])
        steps = len(PROFILE_STEPS)
        total = np.zeros((n, steps))
        count = np.zeros((n, steps))
        for day in _DAYS:
            block = windows[:, last + 1 - day : last + 1 - day + steps]
            known = ~np.isnan(block)
            total += np.where(known, block, 0.0)
            count += known
        dmean = total / count
    origin[:, col + 2] = _since_gap(windows) * float(SLOT_MINUTES)
    profile = np.empty((n, 3 * steps), dtype=np.float64)
    profile[:, :steps] = windows[:, last + 1 - SLOTS_PER_DAY : last + 1 - SLOTS_PER_DAY + steps]
    profile[:, steps : 2 * steps] = windows[
        :, last + 1 - SLOTS_PER_WEEK : last + 1 - SLOTS_PER_WEEK + steps
    ]
    profile[:, 2 * steps :] = dmean
    return origin, profile


def window_features(windows: np.ndarray) -> dict[str, np.ndarray]:
    """All per-series features for each row of ``windows`` (shape ``(n, WINDOW)``), by name."""
    origin, profile = window_matrix(windows)
    out = {name: origin[:, i] for i, name in enumerate(origin_feature_names())}
    out.update({name: profile[:, i] for i, name in enumerate(profile_feature_names())})
    return out


def _nanmean(block: np.ndarray) -> np.ndarray:
    """Mean over the last axis ignoring NaN; NaN (no warning) where all are missing."""
    known = ~np.isnan(block)
    total = np.where(known, block, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean: np.ndarray = total / known.sum(axis=-1)
    return mean


def _since_gap(windows: np.ndarray) -> np.ndarray:
    """Consecutive observed slots ending at the origin (0 if the origin itself is missing)."""
    missing = np.isnan(windows[:, ::-1])
    first_missing = np.argmax(missing, axis=1).astype(np.float64)
    never = ~missing.any(axis=1)
    first_missing[never] = float(windows.shape[1] - 1)
    capped: np.ndarray = np.minimum(first_missing, float(windows.shape[1] - 1))
    return capped
