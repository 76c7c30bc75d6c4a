"""Training judges candidates against a cached incumbent: the same losses as a fresh load,
each version parsed once while it is kept, and a dropped version checked again when re-read."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from gridstream.core.forecasting import TrainConfig
from gridstream.core.forecasting.backtest import prepare
from gridstream.core.forecasting.model_cache import ModelCache
from gridstream.core.forecasting.training import train_series
from gridstream.store.registry import ModelRegistry, RegistryError

from .conftest import synthetic_history


def test_cached_incumbent_judges_like_a_fresh_load(tmp_path: Path) -> None:
    prepared = prepare(synthetic_history(days=35), "ALL", "wind")
    start, end = prepared.index[0], prepared.index[-1] + pd.Timedelta(minutes=15)
    config = TrainConfig(samples=3000, rounds=12, num_threads=1)
    registry = ModelRegistry(tmp_path / "cached")
    cache = ModelCache(registry.root, per_series=1)
    first = train_series(prepared, registry, start, end, config, 7, cache=cache)
    assert cache.loads == 0  # the fitted candidate is kept as it was built
    second = train_series(prepared, registry, start, end, replace(config, rounds=3), 7, cache=cache)
    assert cache.loads == 0 and second.previous_version == first.version

    plain = ModelRegistry(tmp_path / "plain")
    train_series(prepared, plain, start, end, config, 7)
    again = train_series(prepared, plain, start, end, replace(config, rounds=3), 7)
    assert again.metrics == second.metrics  # incumbent's loss included

    # one version kept per series: the first is read (and its files checked) again
    sid = first.series_id
    path = registry.version_dir(sid, first.version) / "p50.txt"
    path.write_text(path.read_text().replace("Tree=1", "Tree=9", 1))
    with pytest.raises(RegistryError, match="hash"):
        cache.get(sid, first.version)
    assert cache.get(sid, second.version) is cache.get(sid, second.version)
    assert cache.loads == 0  # the second is still kept; the refused read is not counted
