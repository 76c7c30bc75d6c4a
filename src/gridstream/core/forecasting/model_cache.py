"""Loaded model versions kept for the next use, a few per series.

A trainer judges the model in force every day (its drift check) and against every candidate
(the validation), so without a cache it parsed the same model texts again and again: on 30
replayed days, 45 loads of the same few versions took a quarter of its time. A version never
changes once stored (its id is derived from its data and settings, and the registry checks
each file's hash when it is read), so a parsed version can be reused as long as it is kept.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from gridstream.core.forecasting.quantile_model import QuantileForecaster

#: versions kept per series: the one in force and the last candidate
PER_SERIES = 2


class ModelCache:
    """``QuantileForecaster`` versions of one registry, the ``PER_SERIES`` most recently
    used of each series."""

    def __init__(self, registry_root: Path, per_series: int = PER_SERIES) -> None:
        self.root = registry_root
        self.per_series = per_series
        self._kept: dict[str, OrderedDict[str, QuantileForecaster]] = {}
        self.loads = 0  # versions read from the registry (for tests and profiles)

    def get(self, series_id: str, version: str) -> QuantileForecaster:
        """The version, from the cache or loaded (and checked) from the registry."""
        kept = self._kept.setdefault(series_id, OrderedDict())
        model = kept.get(version)
        if model is None:
            model = QuantileForecaster.load(self.root, series_id, version)
            self.loads += 1
        self._keep(kept, model)
        return model

    def put(self, model: QuantileForecaster) -> None:
        """Keep a version just built from the texts it was stored with."""
        self._keep(self._kept.setdefault(model.series_id, OrderedDict()), model)

    def _keep(self, kept: OrderedDict[str, QuantileForecaster], model: QuantileForecaster) -> None:
        kept[model.version] = model
        kept.move_to_end(model.version)
        while len(kept) > self.per_series:
            kept.popitem(last=False)
