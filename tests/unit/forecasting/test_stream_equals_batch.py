"""The stream (SeriesState per series) and the batch compute the same features on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridstream.core.features import (
    SeriesState,
    batch_features,
    feature_names,
    features_from_state,
    to_wide,
)
from gridstream.core.features.grid import ts_ms_index

FIELDS = ["SYSTEM_DEMAND", "WIND_ACTUAL", "CO2_INTENSITY"]


def _stream(wide: pd.DataFrame, restart_at: int) -> dict[str, np.ndarray]:
    """Replay readings slot by slot; serialise/restore every state once, mid-stream."""
    states = {field: SeriesState() for field in FIELDS}
    out = {field: np.full((len(wide), len(feature_names())), np.nan) for field in FIELDS}
    ts_ms = ts_ms_index(pd.DatetimeIndex(wide.index))
    values = wide[FIELDS].to_numpy()
    for row in range(len(wide)):
        if row == restart_at:
            states = {f: SeriesState.from_bytes(s.to_bytes()) for f, s in states.items()}
        arrived = [f for j, f in enumerate(FIELDS) if np.isfinite(values[row, j])]
        for j, field in enumerate(FIELDS):
            if field in arrived:
                states[field].update(int(ts_ms[row]), float(values[row, j]))
        for field in arrived:
            feats = features_from_state(states[field], states)
            out[field][row] = [feats[name] for name in feature_names()]
    return out


def test_stream_features_equal_batch_features_on_real_data(real_spring_2022: pd.DataFrame) -> None:
    wide = to_wide(real_spring_2022, "ALL", FIELDS)
    # punch a real-looking gap into demand so gap handling is exercised too
    wide.iloc[900:903, wide.columns.get_loc("SYSTEM_DEMAND")] = np.nan
    streamed = _stream(wide, restart_at=len(wide) // 2)
    for field in FIELDS:
        batch = batch_features(wide, field).to_numpy()
        arrived = np.isfinite(wide[field].to_numpy())
        assert arrived.sum() > 1200
        np.testing.assert_allclose(
            streamed[field][arrived], batch[arrived], rtol=1e-9, atol=1e-9, equal_nan=True
        )
    demand = batch_features(wide, "SYSTEM_DEMAND")
    assert demand["since_gap_min"].iloc[902] == 0.0
    assert demand["since_gap_min"].iloc[903] == 15.0
    assert demand["since_gap_min"].iloc[904] == 30.0
    assert demand["since_gap_min"].iloc[850] > 500.0
