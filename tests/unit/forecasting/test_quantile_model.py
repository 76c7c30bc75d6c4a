"""Quantile models: ordered trajectories, no look-ahead, registry round trip, seasonal naive."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridstream.core.features import SeriesState, batch_features, features_from_state, to_wide
from gridstream.core.features.grid import ts_ms_index
from gridstream.core.forecasting import (
    QuantileForecaster,
    TrainConfig,
    quantile_forecasts,
    seasonal_naive_forecast,
)
from gridstream.core.forecasting.backtest import fit, prepare
from gridstream.core.forecasting.quantile_training import sample_pairs
from gridstream.core.forecasting.trajectory import MODEL_KIND_SEASONAL_NAIVE

from .conftest import synthetic_history

SMALL = TrainConfig(samples=6000, rounds=30, num_threads=1)


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return synthetic_history()


def test_forecast_from_stream_state_is_ordered_and_tracks_the_cycle(history: pd.DataFrame) -> None:
    prepared = prepare(history, "ALL", "demand")
    forecaster, _ = fit(prepared, prepared.index[0], prepared.index[-1], SMALL)
    wide = to_wide(history, "ALL", ["SYSTEM_DEMAND", "WIND_ACTUAL"])
    states = {f: SeriesState() for f in wide.columns}
    for ts, row in zip(ts_ms_index(pd.DatetimeIndex(wide.index)), wide.to_numpy(), strict=True):
        for field, value in zip(wide.columns, row, strict=True):
            states[field].update(int(ts), float(value))
    demand = states["SYSTEM_DEMAND"]
    assert demand.last_ts_ms is not None
    trajectory = forecaster.forecast(features_from_state(demand, states), demand.last_ts_ms)
    assert trajectory.p50.shape == (96,)
    assert (trajectory.p10 <= trajectory.p50).all() and (trajectory.p50 <= trajectory.p90).all()
    assert (trajectory.p90 - trajectory.p10 > 0).mean() > 0.9
    # the synthetic series repeats daily: 24 h ahead equals the last value (+- noise)
    assert abs(trajectory.p50[-1] - wide["SYSTEM_DEMAND"].iloc[-1]) < 150
    assert trajectory.horizon_minutes[0] == 15 and trajectory.horizon_minutes[-1] == 1440


def test_training_pairs_never_reach_past_the_training_window() -> None:
    values = np.arange(2000, dtype=np.float64)
    values[500:520] = np.nan
    rows, leads = sample_pairs(values, 100, 999, 20_000, seed=3)
    assert (rows >= 100).all() and (rows + leads <= 999).all()
    assert np.isfinite(values[rows]).all() and np.isfinite(values[rows + leads]).all()
    assert leads.min() == 1 and leads.max() == 96


def test_features_do_not_look_ahead(history: pd.DataFrame) -> None:
    wide = to_wide(history, "ALL", ["SYSTEM_DEMAND", "WIND_ACTUAL"])
    before = batch_features(wide, "SYSTEM_DEMAND")
    changed = wide.copy()
    changed.iloc[3000:, :] = changed.iloc[3000:, :] * 3.0
    after = batch_features(changed, "SYSTEM_DEMAND")
    pd.testing.assert_frame_equal(before.iloc[:3000], after.iloc[:3000])
    assert not before.iloc[3000:].equals(after.iloc[3000:])


def test_quantile_forecasts_are_hourly_full_trajectories(history: pd.DataFrame) -> None:
    start = pd.Timestamp("2021-02-08", tz="UTC")
    out = quantile_forecasts(
        history, "ALL", ["demand", "wind"], start, start, start + pd.Timedelta(hours=5), SMALL
    )
    assert list(out.columns) == ["issue_time", "target_time", "series", "p10", "p50", "p90"]
    for _name, group in out.groupby("series"):
        issues = group["issue_time"].drop_duplicates()
        assert len(issues) == 6 and (issues.diff().dropna() == pd.Timedelta(hours=1)).all()
        assert (group.groupby("issue_time").size() == 96).all()
    assert (out["issue_time"] >= start).all()
    lead = out["target_time"] - out["issue_time"]
    assert lead.min() == pd.Timedelta(minutes=15) and lead.max() == pd.Timedelta(hours=24)
    assert (out["p10"] <= out["p50"]).all() and (out["p50"] <= out["p90"]).all()


def test_seasonal_naive_uses_last_week_and_is_labelled() -> None:
    feats = {f"prof_w1_{h}": 100.0 + h for h in range(1, 97)}
    feats |= {f"prof_d1_{h}": 110.0 + h for h in range(1, 97)}
    feats["value"] = 50.0
    trajectory = seasonal_naive_forecast(feats, 1_000_000)
    assert trajectory.model_kind == MODEL_KIND_SEASONAL_NAIVE
    assert trajectory.p50[0] == 101.0 and trajectory.p50[-1] == 196.0
    assert (trajectory.p10 < trajectory.p50).all() and (trajectory.p50 < trajectory.p90).all()
    empty = seasonal_naive_forecast({"value": 42.0}, 0)
    assert (empty.p50 == 42.0).all()


def test_forecaster_rejects_models_with_other_features(
    tmp_path: Path, history: pd.DataFrame
) -> None:
    prepared = prepare(history, "ALL", "wind")
    _, texts = fit(prepared, prepared.index[0], prepared.index[-1], SMALL)
    renamed = {k: v.replace("rel_lag_1 ", "rel_lag_x ") for k, v in texts.items()}
    renamed = {
        k: v.replace("feature_names=lead rel_lag_1", "feature_names=lead rel_lag_x")
        for k, v in renamed.items()
    }
    from gridstream.store.registry import RegistryError

    with pytest.raises(RegistryError):
        QuantileForecaster("ALL/WIND_ACTUAL", "v", renamed)


def test_batched_forecasts_equal_single_forecasts_and_predict_levels(
    history: pd.DataFrame,
) -> None:
    prepared = prepare(history, "ALL", "demand")
    forecaster, _ = fit(prepared, prepared.index[0], prepared.index[-1], SMALL)
    rows = np.arange(2000, 2010, dtype=np.int64)
    stamps = ts_ms_index(pd.DatetimeIndex(prepared.index))[rows]
    batch = forecaster.forecast_many(prepared.features.to_numpy()[rows], stamps)
    records = prepared.features.iloc[rows].to_dict("records")
    leads = np.tile(np.arange(1, 97, dtype=np.int64), len(rows))
    levels = forecaster.predict_levels(
        prepared.features, prepared.index, np.repeat(rows, 96), leads
    ).reshape(len(rows), 96, 3)
    for i, trajectory in enumerate(batch):
        single = forecaster.forecast({str(k): v for k, v in records[i].items()}, int(stamps[i]))
        np.testing.assert_allclose(trajectory.p50, single.p50, rtol=1e-12)
        np.testing.assert_allclose(trajectory.p10, levels[i, :, 0], rtol=1e-12)
        np.testing.assert_allclose(trajectory.p90, levels[i, :, 2], rtol=1e-12)
        assert trajectory.issue_ts_ms == int(stamps[i])
    # interpolated leads lie between their anchors' scaled residuals: no spikes
    p50 = np.stack([t.p50 for t in batch])
    assert np.isfinite(p50).all() and (np.abs(np.diff(p50, axis=1)) < 1000).all()


def test_predict_levels_in_chunks_equals_one_pass(
    history: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gridstream.core.forecasting import quantile_model

    prepared = prepare(history, "ALL", "demand")
    forecaster, _ = fit(prepared, prepared.index[0], prepared.index[-1], SMALL)
    rows = np.repeat(np.arange(1000, 1040, dtype=np.int64), 96)
    leads = np.tile(np.arange(1, 97, dtype=np.int64), 40)
    whole = forecaster.predict_levels(prepared.features, prepared.index, rows, leads)
    monkeypatch.setattr(quantile_model, "PREDICT_CHUNK", 1000)  # 4 chunks, the last partial
    chunked = forecaster.predict_levels(prepared.features, prepared.index, rows, leads)
    assert whole.shape == chunked.shape == (len(rows), 3)
    np.testing.assert_array_equal(whole, chunked)
    # a frame whose columns are out of order is reordered, not read as is
    shuffled = prepared.features[prepared.features.columns[::-1]]
    again = forecaster.predict_levels(shuffled, prepared.index, rows, leads)
    np.testing.assert_array_equal(whole, again)


def test_band_calibration_is_held_out_and_stored_with_the_model(history: pd.DataFrame) -> None:
    import json

    from gridstream.core.forecasting.train_config import TARGET

    prepared = prepare(history, "ALL", "demand")
    start, until = prepared.index[0], prepared.index[-1]
    forecaster, texts = fit(prepared, start, until, SMALL)
    target = json.loads(texts[TARGET])
    # a 42-day window holds out its last quarter (the 91-day default does not fit)
    held_out = (until - start) / 4
    assert pd.Timestamp(target["calibration"]["from"]) == until - held_out
    assert (
        len(target["band_factors"]) == 97 and len(target["calibration"]["coverage_targets"]) == 96
    )
    # the stored factors are what the loaded forecaster applies: without them bands differ
    plain = {**texts, TARGET: json.dumps({k: v for k, v in target.items() if k != "band_factors"})}
    rows = np.arange(3000, 3010, dtype=np.int64)
    leads = np.full(len(rows), 96, dtype=np.int64)
    calibrated = forecaster.predict_levels(prepared.features, prepared.index, rows, leads)
    raw = QuantileForecaster("ALL/SYSTEM_DEMAND", "v", plain).predict_levels(
        prepared.features, prepared.index, rows, leads
    )
    np.testing.assert_allclose(calibrated[:, 1], raw[:, 1])
    width = calibrated[:, 2] - calibrated[:, 0]
    assert np.allclose(width, target["band_factors"][96] * (raw[:, 2] - raw[:, 0]), rtol=1e-9)


def test_demand_models_get_larger_trees_than_weather_series() -> None:
    config = TrainConfig(num_leaves=31, demand_num_leaves=63)
    assert config.for_series("demand").num_leaves == 63
    assert config.for_series("wind").num_leaves == 31 and config.for_series("co2") == config


def test_the_demand_median_learns_slower_and_longer_and_the_bands_do_not() -> None:
    config = TrainConfig(rounds=160, learning_rate=0.12).for_series("demand")
    assert config.rounds == 1200
    assert config.params(0.5)["learning_rate"] == pytest.approx(0.06)
    assert config.params(0.1)["learning_rate"] == config.params(0.9)["learning_rate"] == 0.12
    wind = TrainConfig(rounds=160, learning_rate=0.12).for_series("wind")
    assert wind.rounds == 160 and wind.params(0.5)["learning_rate"] == 0.12


def test_recalibration_sees_only_the_past_and_segments_pick_their_own_bands(
    history: pd.DataFrame,
) -> None:
    from dataclasses import replace

    from gridstream.core.forecasting.backtest import calibrated, evaluate

    prepared = prepare(history, "ALL", "demand")
    start = prepared.index[0]
    train_until = start + pd.Timedelta(days=28)
    config = replace(SMALL, calibration_days=10)
    forecaster, texts = fit(prepared, start, train_until, config)
    at = train_until + pd.Timedelta(days=7)
    _, again = calibrated(prepared, texts, at, config)
    # the readings at and after the recalibration time change nothing
    later = replace(prepared, values=prepared.values.copy())
    later.values[later.position(at) :] *= 1.5
    assert calibrated(later, texts, at, config)[1] == again
    # earlier ones do
    earlier = replace(prepared, values=prepared.values.copy())
    earlier.values[earlier.position(at) - 200 : earlier.position(at)] *= 1.5
    assert calibrated(earlier, texts, at, config)[1] != again

    # a segment forecaster with twice the band: the same P50 error, wider bands after it
    import json

    from gridstream.core.forecasting.train_config import TARGET

    target = json.loads(texts[TARGET])
    target["band_factors"] = [2 * f for f in target["band_factors"]]
    wide = QuantileForecaster("ALL/SYSTEM_DEMAND", "w", {**texts, TARGET: json.dumps(target)})
    test_until = prepared.index[-1]
    one = evaluate(prepared, forecaster, train_until, test_until)
    same = evaluate(
        prepared, [(0, forecaster), (prepared.position(at), forecaster)], train_until, test_until
    )
    two = evaluate(
        prepared, [(0, forecaster), (prepared.position(at), wide)], train_until, test_until
    )
    assert same == one
    for a, b in zip(one, two, strict=True):
        assert a["mae"] == b["mae"]
        assert b["coverage_p10_p90"] >= a["coverage_p10_p90"]
    assert any(b["coverage_p10_p90"] > a["coverage_p10_p90"] for a, b in zip(one, two, strict=True))


def test_demand_median_fits_relative_residuals_with_the_huber_loss() -> None:
    demand = TrainConfig(huber_delta=2.0).for_series("demand")
    assert demand.relative_target and demand.params(0.5)["objective"] == "huber"
    assert demand.params(0.5)["alpha"] == 2.0
    # the band models stay quantile models at their own levels
    assert demand.params(0.1)["objective"] == "quantile" and demand.params(0.9)["alpha"] == 0.9
    for series in ("wind", "co2"):
        config = TrainConfig().for_series(series)
        assert not config.relative_target and config.params(0.5)["objective"] == "quantile"


def test_relative_target_scales_the_residual_by_the_reference(history: pd.DataFrame) -> None:
    import json
    from dataclasses import replace

    from gridstream.core.forecasting.train_config import TARGET

    prepared = prepare(history, "ALL", "demand")
    start, until = prepared.index[0], prepared.index[-1]
    _, texts = fit(prepared, start, until, SMALL)
    assert json.loads(texts[TARGET])["relative"] is True
    rows = np.arange(3000, 3040, dtype=np.int64)
    leads = np.full(len(rows), 48, dtype=np.int64)
    relative = QuantileForecaster("ALL/SYSTEM_DEMAND", "r", texts)
    levels = relative.predict_levels(prepared.features, prepared.index, rows, leads)
    # the same trees read as MW residuals give other levels: the flag is applied
    as_mw = {**texts, TARGET: json.dumps({**json.loads(texts[TARGET]), "relative": False})}
    mw = QuantileForecaster("ALL/SYSTEM_DEMAND", "m", as_mw)
    other = mw.predict_levels(prepared.features, prepared.index, rows, leads)
    assert not np.allclose(levels[:, 1], other[:, 1])
    # relative levels follow the daily cycle of the synthetic series (24 h ahead = +- noise)
    actual = prepared.values[rows + leads]
    assert np.mean(np.abs(levels[:, 1] - actual) / actual) < 0.03
    wind = fit(prepare(history, "ALL", "wind"), start, until, replace(SMALL))[1]
    assert json.loads(wind[TARGET])["relative"] is False


def test_median_is_refitted_on_the_held_out_window_after_calibration(
    history: pd.DataFrame,
) -> None:
    import json
    from dataclasses import replace

    from gridstream.core.forecasting.train_config import TARGET

    prepared = prepare(history, "ALL", "demand")
    start, until = prepared.index[0], prepared.index[-1]
    held_from = prepared.position(until - (until - start) / 4)
    changed = replace(prepared, values=prepared.values.copy())
    changed.values[held_from + 200 :] *= 1.1
    # readings inside the held-out window reach the refitted median and nothing else
    _, refit = fit(prepared, start, until, SMALL)
    _, after = fit(changed, start, until, SMALL)
    assert after["p10"] == refit["p10"] and after["p90"] == refit["p90"]
    assert after["p50"] != refit["p50"]
    # the band is calibrated on that window either way
    assert json.loads(after[TARGET])["band_factors"] != json.loads(refit[TARGET])["band_factors"]
    # without the refit no model sees the window
    held = replace(SMALL, demand_refit_median=False)
    assert fit(prepared, start, until, held)[1]["p50"] == fit(changed, start, until, held)[1]["p50"]


def test_weather_series_keep_the_held_out_median() -> None:
    assert TrainConfig().for_series("demand").refit_median
    assert not TrainConfig().for_series("wind").refit_median
    assert not TrainConfig().for_series("co2").refit_median


def test_seasonal_naive_bridges_a_half_hourly_profile() -> None:
    """SNSP is read every 30 min: every other quarter-hour of its profiles is missing."""
    feats = {f"prof_w1_{h}": (20.0 + h if h % 2 == 0 else float("nan")) for h in range(1, 97)}
    feats |= {f"prof_d1_{h}": float("nan") for h in range(1, 97)}
    feats["value"] = 90.0  # far from the profile: a trajectory that falls back to it zigzags
    trajectory = seasonal_naive_forecast(feats, 0)
    assert trajectory.p50[0] == 22.0  # the first step takes its known neighbour
    assert trajectory.p50[1:4].tolist() == [22.0, 23.0, 24.0]  # bridged linearly
    assert np.all(np.abs(np.diff(trajectory.p50)) <= 1.0 + 1e-9)  # no jumps to "now"


def test_bridge_gaps_leaves_long_gaps_to_the_fallback() -> None:
    from gridstream.core.forecasting.baselines import bridge_gaps

    nan = float("nan")
    out = bridge_gaps(np.array([nan, 1.0, nan, 3.0, nan, nan, nan, 7.0, nan]))
    assert out[:4].tolist() == [1.0, 1.0, 2.0, 3.0] and out[-1] == 7.0
    assert np.isnan(out[4:7]).all()  # three missing steps: not a cadence, a gap
