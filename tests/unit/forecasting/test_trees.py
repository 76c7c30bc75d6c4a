"""The compiled tree evaluator predicts exactly what LightGBM predicts, and refuses bad text."""

from __future__ import annotations

import re

import lightgbm as lgb
import numpy as np
import pytest

from gridstream.core.forecasting.trees import ModelTextError, TreeModel

N_FEATURES = 6


def _data(seed: int, rows: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, N_FEATURES))
    x[rng.random(x.shape) < 0.08] = np.nan
    x[rng.random(x.shape) < 0.08] = 0.0
    x[:, 3] = np.round(x[:, 3] * 2)  # a feature with few distinct values
    y = np.nan_to_num(x[:, 0]) * 2 + np.sin(np.nan_to_num(x[:, 1]) * 3) + np.isnan(x[:, 2])
    y += (x[:, 4] == 0.0) * 1.5 + rng.normal(scale=0.3, size=rows)
    return x, y


def _probe_rows(model_text: str, seed: int) -> np.ndarray:
    """Rows that sit on the split thresholds, beside them, at zero, near zero, NaN and inf:
    the cases where a wrong comparison or missing-value rule shows."""
    rng = np.random.default_rng(seed)
    thresholds = [
        float(v) for line in re.findall(r"^threshold=(.*)$", model_text, re.M) for v in line.split()
    ]
    specials = [0.0, -0.0, 1e-36, -1e-36, 1e-30, np.nan, np.inf, -np.inf]
    pool = np.array(
        thresholds + [np.nextafter(t, np.inf) for t in thresholds] + specials, dtype=np.float64
    )
    probe = rng.choice(pool, size=(4000, N_FEATURES))
    normal, _ = _data(seed + 1, 2000)
    return np.concatenate([probe, normal])


MODELS = {
    "quantile, NaN as missing": {"objective": "quantile", "alpha": 0.9, "num_leaves": 31},
    "regression, missing ignored": {"objective": "regression", "use_missing": False},
    "regression, zero as missing": {"objective": "regression", "zero_as_missing": True},
    "quantile, 100 leaves": {"objective": "quantile", "alpha": 0.5, "num_leaves": 100},
    "l1, stumps and single leaves": {
        "objective": "regression_l1",
        "num_leaves": 2,
        "min_data_in_leaf": 1400,
    },
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_predictions_equal_lightgbm_bit_for_bit(name: str) -> None:
    x, y = _data(7)
    params = {"verbose": -1, "min_data_in_leaf": 20, "seed": 1, **MODELS[name]}
    booster = lgb.train(params, lgb.Dataset(x, y), num_boost_round=60)
    text = booster.model_to_string()
    model = TreeModel.from_text(text)
    rows = _probe_rows(text, 11)
    expected = booster.predict(rows)
    for threads in (1, 2):
        got = model.predict(rows, num_threads=threads)
        assert np.array_equal(got, expected), (name, float(np.max(np.abs(got - expected))))
    # the bitvector kernel serves trees of at most 64 leaves without zero-as-missing splits;
    # the others are walked: both paths are exercised above
    walked = name in ("regression, zero as missing", "quantile, 100 leaves")
    assert (model.layout is None) == walked


def test_small_batches_and_single_rows_equal_lightgbm() -> None:
    x, y = _data(3)
    booster = lgb.train({"verbose": -1, "objective": "quantile", "alpha": 0.1}, lgb.Dataset(x, y))
    model = TreeModel.from_text(booster.model_to_string())
    rows = _probe_rows(booster.model_to_string(), 5)[:130]
    for size in (1, 2, 63, 64, 65, 130):
        assert np.array_equal(model.predict(rows[:size]), booster.predict(rows[:size]))
    assert model.predict(rows[:0]).shape == (0,)
    with pytest.raises(ValueError, match="features"):
        model.predict(rows[:, :3])


@pytest.fixture(scope="module")
def text() -> str:
    x, y = _data(5)
    booster = lgb.train({"verbose": -1, "num_leaves": 7}, lgb.Dataset(x, y), num_boost_round=5)
    return str(booster.model_to_string())


def _tree_line(text: str, key: str, tree: int = 1) -> str:
    block = text.split("\nTree=")[tree + 1]
    return next(line for line in block.splitlines() if line.startswith(key + "="))


@pytest.mark.parametrize(
    ("key", "change", "message"),
    [
        ("left_child", lambda v: v.replace(v.split()[0], "5", 1), "tree"),  # 5 > 5 internal nodes
        ("left_child", lambda v: "0" + v[1:] if v[0] != "-" else "0 " + v, "tree"),
        ("right_child", lambda v: " ".join(["-1"] * len(v.split())), "tree"),
        ("split_feature", lambda v: "99" + v[1:], "split feature"),
        ("threshold", lambda v: "nan " + " ".join(v.split()[1:]), "threshold"),
        ("leaf_value", lambda v: " ".join(v.split()[1:]), "leaf_value"),
        ("decision_type", lambda v: "1 " + " ".join(v.split()[1:]), "categorical"),
    ],
)
def test_a_tampered_tree_is_refused(text: str, key: str, change: object, message: str) -> None:
    line = _tree_line(text, key)
    prefix, values = line.split("=", 1)
    assert callable(change)
    bad = text.replace(line, f"{prefix}={change(values)}", 1)
    assert bad != text
    with pytest.raises(ModelTextError, match=message):
        TreeModel.from_text(bad)


def test_unsupported_models_are_refused(text: str) -> None:
    with pytest.raises(ModelTextError, match="header"):
        TreeModel.from_text("not a model")
    with pytest.raises(ModelTextError, match="objective"):
        TreeModel.from_text(text.replace("objective=regression", "objective=binary sigmoid:1"))
    with pytest.raises(ModelTextError, match="square-root"):
        TreeModel.from_text(text.replace("objective=regression", "objective=regression sqrt"))
    with pytest.raises(ModelTextError, match="single-output"):
        TreeModel.from_text(text.replace("num_class=1", "num_class=3"))
    with pytest.raises(ModelTextError, match="feature names"):
        TreeModel.from_text(text.replace("max_feature_idx=5", "max_feature_idx=9"))
    no_trees = text.split("\nTree=")[0] + "\nend of trees\n"
    with pytest.raises(ModelTextError, match="no trees"):
        TreeModel.from_text(no_trees)
    x = np.random.default_rng(0).integers(0, 4, size=(500, 2)).astype(float)
    categorical = lgb.train(
        {"verbose": -1, "min_data_in_leaf": 5, "min_data_per_group": 5, "cat_smooth": 1},
        lgb.Dataset(x, x[:, 0] * 3 + x[:, 1], categorical_feature=[0]),
        num_boost_round=3,
    )
    with pytest.raises(ModelTextError, match="categorical"):
        TreeModel.from_text(categorical.model_to_string())


def test_without_a_compiler_lightgbm_predicts_the_same_numbers(
    text: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from gridstream.core.forecasting import tree_kernel

    with_kernel = TreeModel.from_text(text)
    monkeypatch.setenv("GRIDSTREAM_KERNEL_CACHE", str(tmp_path))  # nothing built there yet
    monkeypatch.setenv("CC", "/bin/false")  # a compiler that always fails
    monkeypatch.setattr(tree_kernel, "_LOADED", [])
    with caplog.at_level("WARNING"):
        assert tree_kernel.load() is None
    assert "models predict through LightGBM" in caplog.text
    fallback = TreeModel.from_text(text)
    rows = _probe_rows(text, 2)
    assert np.array_equal(fallback.predict(rows), with_kernel.predict(rows, num_threads=2))


def test_the_kernel_is_built_once_and_loaded_from_the_cache(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    from gridstream.core.forecasting import tree_kernel

    monkeypatch.setenv("GRIDSTREAM_KERNEL_CACHE", str(tmp_path))
    monkeypatch.setattr(tree_kernel, "_LOADED", [])
    assert tree_kernel.load() is not None
    built = list(Path(str(tmp_path)).glob("tree_kernel-*.so"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    monkeypatch.setattr(tree_kernel, "_LOADED", [])
    monkeypatch.setenv("CC", "/bin/false")  # a rebuild would fail: it must load the cached one
    assert tree_kernel.load() is not None
    assert built[0].stat().st_mtime_ns == stamp


def test_a_portable_prebuilt_kernel_serves_a_machine_without_a_compiler(
    text: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    from gridstream.config import KERNEL_PREBUILT_ENV
    from gridstream.core.forecasting import tree_kernel

    prebuilt = Path(str(tmp_path)) / "prebuilt"
    built = tree_kernel.build_portable(prebuilt)
    assert built.name == tree_kernel.portable_name() and built.is_file()
    reference = TreeModel.from_text(text)
    monkeypatch.setenv("GRIDSTREAM_KERNEL_CACHE", str(Path(str(tmp_path)) / "cache"))
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setattr(tree_kernel.shutil, "which", lambda _name: None)  # no compiler at all
    monkeypatch.setenv(KERNEL_PREBUILT_ENV, str(prebuilt))
    monkeypatch.setattr(tree_kernel, "_LOADED", [])
    assert tree_kernel.load() is not None
    assert not (Path(str(tmp_path)) / "cache").exists()  # nothing was compiled for this CPU
    portable = TreeModel.from_text(text)
    rows = _probe_rows(text, 2)
    assert np.array_equal(portable.predict(rows, num_threads=2), reference.predict(rows))
    import lightgbm as lgb

    booster = lgb.Booster(model_str=text)
    assert np.array_equal(portable.predict(rows), booster.predict(rows, num_threads=1))
    # an empty prebuilt directory leaves the LightGBM fallback
    monkeypatch.setenv(KERNEL_PREBUILT_ENV, str(Path(str(tmp_path)) / "empty"))
    monkeypatch.setattr(tree_kernel, "_LOADED", [])
    assert tree_kernel.load() is None
