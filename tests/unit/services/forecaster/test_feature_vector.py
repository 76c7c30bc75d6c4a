"""A FeatureVector's features read the same whether packed or carried as a map."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gridstream.core.features import feature_names
from gridstream.errors import ValidationError
from gridstream.schemas import features_pb2
from gridstream.services.forecaster.feature_vector import FeatureView, vector_values


def _values() -> np.ndarray:
    values = np.arange(len(feature_names()), dtype=np.float64) + 0.25
    values[[3, 10, 11]] = np.nan
    return values


def test_packed_and_map_vectors_give_the_same_array() -> None:
    values = _values()
    names = feature_names()
    packed = features_pb2.FeatureVector(series_id="ALL/SYSTEM_DEMAND", values=values.tolist())
    known = {n: v for n, v in zip(names, values.tolist(), strict=True) if not math.isnan(v)}
    mapped = features_pb2.FeatureVector(series_id="ALL/SYSTEM_DEMAND", features=known)
    for msg in (packed, mapped):
        wire = features_pb2.FeatureVector.FromString(msg.SerializeToString())
        got = vector_values(wire)
        assert got is not None
        np.testing.assert_array_equal(got, values)  # NaN where unknown, in both forms
    assert len(packed.SerializeToString()) * 2 < len(mapped.SerializeToString())


def test_a_value_only_vector_has_no_features_and_a_wrong_count_is_refused() -> None:
    assert vector_values(features_pb2.FeatureVector(series_id="ALL/SYSTEM_DEMAND")) is None
    wrong = features_pb2.FeatureVector(series_id="ALL/X", values=[1.0] * 5, feature_set="old")
    with pytest.raises(ValidationError, match=r"ALL/X: 5 feature values, but feature set old"):
        vector_values(wrong)


def test_the_view_names_the_known_features_only() -> None:
    values = _values()
    names = feature_names()
    view = FeatureView(values)
    assert len(view) == len(names) - 3
    assert list(view) == [n for i, n in enumerate(names) if i not in (3, 10, 11)]
    assert view[names[0]] == 0.25 and view.get(names[3]) is None and names[10] not in view
    assert view.get("no_such_feature", -1.0) == -1.0
    with pytest.raises(KeyError):
        view[names[11]]
