"""The NAB scorer against Numenta HTM's official per-file and corpus figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridstream.core.nab.profiles import DEFAULT_PROFILES, STANDARD, profiles_from_config
from gridstream.core.nab.scorer import ScoredFile, score_corpus, score_file
from gridstream.core.nab.sweep import row_weights, scaled_sigmoid
from gridstream.core.nab.windows import Window, probation_length

NAB = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "nab"
needs_nab = pytest.mark.skipif(not NAB.is_dir(), reason="../shared/data/nab is absent")


def test_scaled_sigmoid_shape() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(2 / (1 + np.exp(-5)) - 1)
    assert scaled_sigmoid(0.0) == pytest.approx(0.0)
    assert scaled_sigmoid(3.5) == -1.0
    assert scaled_sigmoid(-0.5) > scaled_sigmoid(-0.1) > scaled_sigmoid(0.5)


def test_probation_is_15_percent_capped_at_750() -> None:
    assert probation_length(1000) == 150
    assert probation_length(22695) == 750


def test_early_detection_earns_full_tp_weight_and_miss_costs_fn() -> None:
    weights = row_weights(100, [Window(60, 69)])
    first = np.zeros(100)
    first[60] = 1.0
    item = ScoredFile("f", first, weights, 1)
    assert score_file(item, STANDARD, 0.5).score == pytest.approx(1.0)
    late = np.zeros(100)
    late[69] = 1.0
    assert 0 < score_file(ScoredFile("f", late, weights, 1), STANDARD, 0.5).score < 1.0
    missed = score_file(ScoredFile("f", np.zeros(100), weights, 1), STANDARD, 0.5)
    assert missed.score == -1.0
    fp_only = np.zeros(100)
    fp_only[30] = 1.0
    assert score_file(ScoredFile("f", fp_only, weights, 1), STANDARD, 0.5).score == (
        pytest.approx(-STANDARD.fp_weight - 1.0)
    )


def test_profiles_from_config_reads_cost_matrix() -> None:
    profiles = profiles_from_config(
        {"p": {"CostMatrix": {"tpWeight": 1, "fnWeight": 2, "fpWeight": 0.5, "tnWeight": 1}}}
    )
    assert profiles[0].fn_weight == 2.0 and profiles[0].fp_weight == 0.5


def _htm_items() -> list[ScoredFile]:
    from gridstream.core.nab.windows import windows_to_indices

    labels = json.loads((NAB / "labels" / "combined_windows.json").read_text())
    items = []
    for path in sorted((NAB / "results" / "numenta").glob("*/numenta_*.csv")):
        name = f"{path.parent.name}/{path.name[len('numenta_') :]}"
        frame = pd.read_csv(path)
        ts = pd.to_datetime(frame["timestamp"]).to_numpy(dtype="datetime64[ns]")
        wins = windows_to_indices(ts, labels[name], name)
        items.append(
            ScoredFile(
                name, frame["anomaly_score"].to_numpy(float), row_weights(len(ts), wins), len(wins)
            )
        )
    return items


@needs_nab
def test_per_file_scores_match_official_csv() -> None:
    items = _htm_items()
    assert len(items) == 18
    for profile in DEFAULT_PROFILES:
        ref = pd.read_csv(NAB / "results" / "numenta" / f"numenta_{profile.name}_scores.csv")
        ref = ref.set_index("File")
        for item in items:
            row = ref.loc[item.name]
            got = score_file(item, profile, float(row["Threshold"]))
            assert got.score == pytest.approx(float(row["Score"]), abs=1e-6), item.name
            assert (got.tp, got.tn, got.fp, got.fn) == (row["TP"], row["TN"], row["FP"], row["FN"])


@needs_nab
def test_corpus_figures_match_official_htm() -> None:
    null_totals = {
        p.name: float(
            pd.read_csv(NAB / "results" / "null" / f"null_{p.name}_scores.csv")["Score"].iloc[-1]
        )
        for p in DEFAULT_PROFILES
    }
    results = {r.profile: r for r in score_corpus(_htm_items(), null_scores=null_totals)}
    assert results["standard"].threshold == pytest.approx(0.6021, abs=1e-4)
    assert round(results["standard"].normalized, 2) == 86.28
    assert round(results["reward_low_FP_rate"].normalized, 2) == 83.80
    assert round(results["reward_low_FN_rate"].normalized, 2) == 90.14
