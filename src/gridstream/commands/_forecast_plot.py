"""The backtest's picture: day-ahead forecast bands against actuals for a sample week."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gridstream.core.features.grid import HORIZON_STEPS, SLOT_MINUTES
from gridstream.core.forecasting.backtest import PreparedSeries
from gridstream.core.forecasting.quantile_model import QuantileForecaster


def plot_sample_week(
    fitted: dict[tuple[str, str], tuple[PreparedSeries, QuantileForecaster]],
    week_start: pd.Timestamp,
    path: Path,
) -> Path:
    """One panel per series: forecasts issued daily at 00:00 UTC for 24 h, over 7 days."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = list(fitted.items())
    fig, axes = plt.subplots(len(items), 1, figsize=(12, 2.6 * len(items)), squeeze=False)
    for ax, ((region, series), (prepared, forecaster)) in zip(axes[:, 0], items, strict=True):
        first = prepared.position(week_start)
        origins = np.arange(first, first + 7 * HORIZON_STEPS, HORIZON_STEPS, dtype=np.int64)
        origins = origins[origins + HORIZON_STEPS < len(prepared.values)]
        rows = np.repeat(origins, HORIZON_STEPS)
        leads = np.tile(np.arange(1, HORIZON_STEPS + 1, dtype=np.int64), len(origins))
        bands = prepared.predict(forecaster, rows, leads)
        when = prepared.index[rows] + pd.to_timedelta(leads * SLOT_MINUTES, unit="min")
        actual_rows = rows + leads
        ax.fill_between(when, bands[:, 0], bands[:, 2], alpha=0.3, label="P10–P90")
        ax.plot(when, bands[:, 1], lw=1.0, label="P50 (day-ahead)")
        ax.plot(when, prepared.values[actual_rows], lw=1.0, color="black", label="actual")
        ax.set_title(f"{region} {series}: forecasts issued daily 00:00 UTC, 24 h ahead")
        ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
