"""The one feature pipeline shared by the stream (ml-preprocessor) and the trainer.

* Stream: keep a :class:`SeriesState` per series; after every series of a region has been
  updated for a slot, call :func:`features_from_state` for each series of that region.
* Batch: :func:`batch_features` over a region's regular 15-minute grid (see
  :func:`gridstream.core.features.grid.to_wide`) gives the same features for every slot.

Both build the same windows and call :func:`window_features`; a unit test checks on real data
that they agree. Cross-series features use the region's demand and wind at the same slot.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import numpy as np
import pandas as pd

from gridstream.core.features.series_state import WINDOW, SeriesState
from gridstream.core.features.window_features import (
    origin_feature_names,
    profile_feature_names,
    window_matrix,
)

FEATURE_SET = "gridstream-features-v1"
DEMAND_FIELD = "SYSTEM_DEMAND"
WIND_FIELD = "WIND_ACTUAL"
CROSS_FEATURES = ("x_demand", "x_wind", "x_net_demand", "x_wind_share")
_BATCH_CHUNK = 8192
#: rows featurised at a time by FeatureGrid.at: their windows are copied (11 MB per 2,048)
_ROW_CHUNK = 2048


def feature_names() -> list[str]:
    """Every feature name the pipeline outputs, in order."""
    return list(_names())


@lru_cache(maxsize=1)
def _names() -> tuple[str, ...]:
    return tuple(origin_feature_names() + list(CROSS_FEATURES) + profile_feature_names())


def cross_features(demand: np.ndarray, wind: np.ndarray) -> dict[str, np.ndarray]:
    """Region-level features: demand, wind, net demand (demand − wind) and wind share."""
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(demand > 0, wind / demand, np.nan)
    return {
        "x_demand": demand,
        "x_wind": wind,
        "x_net_demand": demand - wind,
        "x_wind_share": share,
    }


def _assemble(origin: np.ndarray, profile: np.ndarray, cross: np.ndarray) -> np.ndarray:
    """One matrix in :func:`feature_names` order from the three blocks."""
    out = np.empty((origin.shape[0], origin.shape[1] + cross.shape[1] + profile.shape[1]))
    out[:, : origin.shape[1]] = origin
    out[:, origin.shape[1] : origin.shape[1] + cross.shape[1]] = cross
    out[:, origin.shape[1] + cross.shape[1] :] = profile
    return out


def _cross_block(demand: np.ndarray, wind: np.ndarray) -> np.ndarray:
    return np.column_stack([cross_features(demand, wind)[name] for name in CROSS_FEATURES])


def feature_vector(
    state: SeriesState, peers: Mapping[str, SeriesState] | None = None
) -> np.ndarray:
    """Features at the latest slot of ``state`` as one array in :func:`feature_names` order
    (the allocation-light form of :func:`features_from_state`)."""
    ts_ms = state.last_ts_ms
    if ts_ms is None:
        raise ValueError("features_from_state needs a state that has seen at least one reading")
    origin, profile = window_matrix(state.window()[np.newaxis, :])
    peers = peers or {}

    def peer_value(field: str) -> np.ndarray:
        peer = peers.get(field)
        return np.array([peer.value_at(ts_ms) if peer is not None else np.nan])

    cross = _cross_block(peer_value(DEMAND_FIELD), peer_value(WIND_FIELD))
    row: np.ndarray = _assemble(origin, profile, cross)[0]
    return row


def features_from_state(
    state: SeriesState, peers: Mapping[str, SeriesState] | None = None
) -> dict[str, float]:
    """Features at the latest slot of ``state``; ``peers`` are the region's states by field.

    ``peers`` should contain ``SYSTEM_DEMAND`` and ``WIND_ACTUAL`` (the series' own state may
    be one of them); missing peers give NaN cross features.
    """
    row = feature_vector(state, peers)
    return dict(zip(_names(), row.tolist(), strict=True))


class FeatureGrid:
    """Features of one series of a region's regular 15-minute grid, computed for the rows
    asked for.

    ``frame`` is indexed by consecutive UTC 15-minute slots with one column per field. Each
    row uses only values at or before its own slot (no look-ahead); the first week of rows sees
    the missing history as gaps, exactly as a fresh stream state would. A row's features
    depend on its window of values alone, so any subset of rows equals the same rows of
    :meth:`frame`. The trainer asks only for the origins it uses, a chunk at a time: the
    whole matrix of a three-year window (105,000 slots x 322 features) is 270 MB.
    """

    def __init__(self, frame: pd.DataFrame, field: str) -> None:
        values = frame[field].to_numpy(dtype=np.float64)
        padded = np.concatenate([np.full(WINDOW - 1, np.nan), values])
        self._windows = np.lib.stride_tricks.sliding_window_view(padded, WINDOW)
        nan = np.full(len(values), np.nan)
        self._demand = frame[DEMAND_FIELD].to_numpy(np.float64) if DEMAND_FIELD in frame else nan
        self._wind = frame[WIND_FIELD].to_numpy(np.float64) if WIND_FIELD in frame else nan
        self.size = len(values)

    def _block(self, rows: slice | np.ndarray) -> np.ndarray:
        origin, profile = window_matrix(self._windows[rows])
        return _assemble(origin, profile, _cross_block(self._demand[rows], self._wind[rows]))

    def at(self, rows: np.ndarray) -> np.ndarray:
        """Features of ``rows`` (positions on the grid), one row each, in
        :func:`feature_names` order."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), len(feature_names())))
        for start in range(0, len(rows), _ROW_CHUNK):
            stop = min(start + _ROW_CHUNK, len(rows))
            out[start:stop] = self._block(rows[start:stop])
        return out

    def frame(self, index: pd.Index) -> pd.DataFrame:
        """Features of every row as a frame on ``index`` (the grid's slots)."""
        out = np.empty((self.size, len(feature_names())))
        for start in range(0, self.size, _BATCH_CHUNK):
            stop = min(start + _BATCH_CHUNK, self.size)
            out[start:stop] = self._block(slice(start, stop))
        # copy=False: pandas 3 copies an array handed to DataFrame by default (twice the peak)
        return pd.DataFrame(out, index=index, columns=feature_names(), copy=False)


def batch_features(frame: pd.DataFrame, field: str) -> pd.DataFrame:
    """Features of ``frame[field]`` at every slot of a region's regular grid (see
    :class:`FeatureGrid`)."""
    return FeatureGrid(frame, field).frame(frame.index)
