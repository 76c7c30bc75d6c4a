"""A ``FeatureVector``'s features, whichever way the message carries them.

The ml-preprocessor writes them packed (``values``: one double per name of
``feature_names()``, NaN where unknown); older records and hand-made vectors carry the
``features`` map, name to value, unknown ones left out. Consumers read both through
:func:`vector_values` (an array in ``feature_names()`` order; :class:`FeatureView` gives it
names again). Reading the map costs ~100 us per vector in upb
(322 lookups); the packed values, a few.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from functools import lru_cache

import numpy as np

from gridstream.core.features import FEATURE_SET, feature_names
from gridstream.errors import ValidationError
from gridstream.schemas import features_pb2


@lru_cache(maxsize=1)
def _index() -> dict[str, int]:
    return {name: i for i, name in enumerate(feature_names())}


def vector_values(msg: features_pb2.FeatureVector) -> np.ndarray | None:
    """The features of ``msg`` in ``feature_names()`` order (NaN: unknown), or None if it
    carries none (a value-only vector). Raises ValidationError if the packed values do not
    match this feature set."""
    count = len(msg.values)
    if count:
        if count != len(_index()):
            raise ValidationError(
                f"{msg.series_id}: {count} feature values, but feature set "
                f"{msg.feature_set or '?'} here has {len(_index())} (this service runs "
                f"{FEATURE_SET})"
            )
        return np.array(msg.values, dtype=np.float64)
    if len(msg.features):
        get, nan = msg.features.get, math.nan
        return np.array([get(name, nan) for name in feature_names()], dtype=np.float64)
    return None


class FeatureView(Mapping[str, float]):
    """The known (non-NaN) features of a values array, by name."""

    def __init__(self, values: np.ndarray) -> None:
        self._values = values

    def __getitem__(self, name: str) -> float:
        at = _index().get(name)
        if at is None:
            raise KeyError(name)
        value = float(self._values[at])
        if math.isnan(value):
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        names = feature_names()
        return (names[i] for i in np.flatnonzero(~np.isnan(self._values)).tolist())

    def __len__(self) -> int:
        return int(np.count_nonzero(~np.isnan(self._values)))
