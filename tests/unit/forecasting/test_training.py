"""A training run stores a version, promotes only a winner, and loads back without pickle."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from gridstream.core.forecasting import QuantileForecaster, TrainConfig
from gridstream.core.forecasting.backtest import prepare
from gridstream.core.forecasting.training import train_series
from gridstream.store.registry import ModelRegistry

from .conftest import synthetic_history


def test_train_promote_and_load(tmp_path: Path) -> None:
    prepared = prepare(synthetic_history(days=35), "ALL", "demand")
    registry = ModelRegistry(tmp_path)
    start, end = prepared.index[0], prepared.index[-1] + pd.Timedelta(minutes=15)
    good = TrainConfig(samples=5000, rounds=25, num_threads=1)
    first = train_series(prepared, registry, start, end, good, validation_days=7)
    assert first.promoted and first.previous_version is None
    meta = registry.metadata(first.series_id, first.version)
    assert meta.library_versions["lightgbm"] and len(meta.data_hash) == 64
    assert meta.train_until == (end - pd.Timedelta(days=7)).isoformat()
    text = (registry.version_dir(first.series_id, first.version) / "p50.txt").read_text()
    assert text.startswith("tree")  # LightGBM model text, not a pickle
    # a much weaker candidate (2 rounds) must not replace the incumbent
    weak = train_series(prepared, registry, start, end, replace(good, rounds=2), validation_days=7)
    assert not weak.promoted
    assert weak.metrics["validation_pinball"] > weak.metrics["incumbent_validation_pinball"]
    assert registry.current(first.series_id) == first.version
    assert registry.versions(first.series_id) == sorted([first.version, weak.version])
    loaded = QuantileForecaster.load(tmp_path, first.series_id)
    assert loaded.version == first.version
