"""Features asked for by row equal the whole matrix's rows, so training needs no full matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridstream.core.features import to_wide
from gridstream.core.features.pipeline import FeatureGrid, batch_features
from gridstream.core.forecasting import design
from gridstream.core.forecasting.backtest import prepare
from gridstream.core.forecasting.design import (
    feature_array,
    model_inputs,
    origin_slots_of,
    pair_inputs,
    reference_of,
)
from gridstream.core.forecasting.quantile_training import sample_pairs

FIELDS = ["SYSTEM_DEMAND", "WIND_ACTUAL", "CO2_INTENSITY"]


def test_rows_of_the_grid_equal_the_batch_frame(real_spring_2022: pd.DataFrame) -> None:
    wide = to_wide(real_spring_2022, "ALL", FIELDS)
    wide.iloc[500:510, wide.columns.get_loc("WIND_ACTUAL")] = np.nan  # a gap inside the data
    for field in FIELDS:
        whole = batch_features(wide, field).to_numpy()
        rng = np.random.default_rng(3)
        rows = np.sort(rng.choice(len(wide), size=900, replace=False))
        rows = np.concatenate([rows, rows[:50]])  # unsorted, with repeats
        picked = FeatureGrid(wide, field).at(rows)
        assert picked.shape == (len(rows), whole.shape[1])
        np.testing.assert_array_equal(picked, whole[rows])


def test_pair_inputs_in_chunks_equal_one_pass_over_the_full_matrix(
    real_spring_2022: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared = prepare(real_spring_2022, "ALL", "demand")
    rows, leads = sample_pairs(prepared.values, 0, len(prepared.values) - 1, 20_000, seed=5)
    assert len(np.unique(rows)) > 1000
    feats = feature_array(prepared.features)
    slots = origin_slots_of(prepared.index)
    expected = model_inputs(feats, slots, rows, leads)
    expected_ref = reference_of(feats, rows, leads, "week_blend")
    asked: list[int] = []

    def features_at(origins: np.ndarray) -> np.ndarray:
        assert np.all(np.diff(origins) > 0)  # sorted and distinct
        asked.append(len(origins))
        return prepared.grid.at(origins)

    monkeypatch.setattr(design, "ORIGIN_CHUNK", 150)  # many chunks
    inputs, ref = pair_inputs(features_at, slots, rows, leads, "week_blend")
    assert len(asked) > 3 and max(asked) <= 150
    assert sum(asked) == len(np.unique(rows))  # each origin featurised once
    assert inputs.dtype == np.float32  # the training matrix is half the size of float64
    np.testing.assert_array_equal(inputs, expected.astype(np.float32))
    np.testing.assert_array_equal(ref, expected_ref)


def test_predicting_on_rows_equals_predicting_on_the_full_frame(
    real_spring_2022: pd.DataFrame,
) -> None:
    from gridstream.core.forecasting import TrainConfig
    from gridstream.core.forecasting.backtest import fit

    prepared = prepare(real_spring_2022, "ALL", "wind")
    config = TrainConfig(samples=5000, rounds=20, num_threads=1)
    forecaster, _ = fit(prepared, prepared.index[0], prepared.index[900], config)
    rows = np.repeat(np.arange(950, 1240, 9, dtype=np.int64), 96)
    leads = np.tile(np.arange(1, 97, dtype=np.int64), len(rows) // 96)
    by_rows = prepared.predict(forecaster, rows, leads)
    by_frame = forecaster.predict_levels(prepared.features, prepared.index, rows, leads)
    np.testing.assert_array_equal(by_rows, by_frame)
    assert np.all(np.isfinite(by_rows)) and np.all(np.diff(by_rows, axis=1) >= 0)
