"""Full 24 h quantile trajectories issued over a period, for downstream planners.

:func:`quantile_forecasts` is what the storage optimiser's backtest calls: it trains the
same models the trainer trains (on readings before ``train_until``) and issues forecasts
**every hour, on the hour (UTC)**, from ``test_from`` to ``test_until``, each with all 96
quarter-hour steps. Every forecast uses only readings at or before its issue time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridstream.core.features.grid import HORIZON_STEPS, SERIES_FIELDS, SLOT_MINUTES
from gridstream.core.forecasting.backtest import fit, prepare
from gridstream.core.forecasting.train_config import TrainConfig

ISSUE_EVERY_SLOTS = 4  # one forecast per hour


def quantile_forecasts(
    history: pd.DataFrame,
    region: str,
    series: list[str],
    train_until: pd.Timestamp,
    test_from: pd.Timestamp,
    test_until: pd.Timestamp,
    config: TrainConfig | None = None,
) -> pd.DataFrame:
    """Hourly-issued P10/P50/P90 trajectories for ``series`` (demand|wind|co2) of ``region``.

    ``history`` is the frame of :func:`gridstream.sources.recorded.read_frame`. Returns
    columns ``issue_time, target_time, series, p10, p50, p90`` (UTC timestamps), 96 rows per
    issue time and series; issue times whose latest reading is missing are skipped.
    """
    config = config or TrainConfig()
    train_until = _utc(train_until)
    test_from, test_until = _utc(test_from), _utc(test_until)
    frames = []
    for name in series:
        if name not in SERIES_FIELDS:
            raise ValueError(f"unknown series {name!r}: use one of {sorted(SERIES_FIELDS)}")
        prepared = prepare(history, region, name)
        forecaster, _ = fit(prepared, prepared.index[0], train_until, config)
        start = prepared.position(test_from)
        end = prepared.position(test_until + pd.Timedelta(minutes=SLOT_MINUTES))
        origins = np.arange(start, end, dtype=np.int64)
        on_hour = np.asarray(prepared.index[origins].minute == 0)
        origins = origins[on_hour & np.isfinite(prepared.values[origins])]
        rows = np.repeat(origins, HORIZON_STEPS)
        leads = np.tile(np.arange(1, HORIZON_STEPS + 1, dtype=np.int64), len(origins))
        bands = prepared.predict(forecaster, rows, leads)
        issue = prepared.index[rows]
        frames.append(
            pd.DataFrame(
                {
                    "issue_time": issue,
                    "target_time": issue + pd.to_timedelta(leads * SLOT_MINUTES, unit="min"),
                    "series": name,
                    "p10": bands[:, 0],
                    "p50": bands[:, 1],
                    "p90": bands[:, 2],
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["issue_time", "target_time", "series", "p10", "p50", "p90"])
    return pd.concat(frames, ignore_index=True)


def _utc(ts: pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(ts)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
