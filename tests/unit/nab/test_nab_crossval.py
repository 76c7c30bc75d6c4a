"""Out-of-fold NAB scoring: the fold split, the choice made without the held-out fold, the CLI."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gridstream.core.nab.crossval import choose, cross_validate, fold_split
from gridstream.core.nab.profiles import DEFAULT_PROFILES
from gridstream.core.nab.scorer import ScoredFile
from gridstream.core.nab.sweep import row_weights
from gridstream.core.nab.windows import Window
from gridstream.errors import ConfigError

NAB = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "nab"
NAMES = (
    [f"artificialNoAnomaly/n{i}.csv" for i in range(5)]
    + [f"artificialWithAnomaly/w{i}.csv" for i in range(6)]
    + [f"realKnownCause/r{i}.csv" for i in range(7)]
)
STANDARD = DEFAULT_PROFILES[0]


def test_fold_split_is_deterministic_and_covers_every_file_once() -> None:
    shuffled = NAMES[:]
    random.Random(3).shuffle(shuffled)
    folds = fold_split(NAMES, 6)
    assert folds == fold_split(shuffled, 6)
    flat = [n for fold in folds for n in fold]
    assert sorted(flat) == sorted(NAMES) and len(flat) == len(set(flat))
    assert [len(f) for f in folds] == [3] * 6


def test_every_fold_mixes_categories() -> None:
    for k in (2, 3, 6):
        for fold in fold_split(NAMES, k):
            assert len({n.split("/")[0] for n in fold}) >= 2, fold


def test_fold_split_rejects_impossible_k() -> None:
    with pytest.raises(ConfigError):
        fold_split(NAMES, 1)
    with pytest.raises(ConfigError):
        fold_split(NAMES[:3], 4)


def _scored(name: str, scores: np.ndarray, windows: list[Window]) -> ScoredFile:
    return ScoredFile(name, scores, row_weights(scores.size, windows), len(windows))


def _runs(window_at: dict[str, int]) -> dict[str, dict[str, ScoredFile]]:
    """Three candidates with random scores over 18 files, windows where ``window_at`` says."""
    rng = np.random.default_rng(7)
    out: dict[str, dict[str, ScoredFile]] = {}
    for cand in ("a", "b", "c"):
        out[cand] = {}
        for name in NAMES:
            scores = rng.random(400) ** 4
            start = window_at.get(name, -1)
            wins = [] if start < 0 else [Window(start, start + 30)]
            out[cand][name] = _scored(name, scores, wins)
    return out


def test_the_choice_for_a_fold_ignores_the_held_out_labels() -> None:
    base = {n: 200 for n in NAMES if not n.startswith("artificialNo")}
    folds = fold_split(NAMES, 6)
    before = cross_validate(_runs(base), 6, DEFAULT_PROFILES[:1])
    held = set(folds[2])
    moved = {n: (90 if n in held else s) for n, s in base.items()}
    after = cross_validate(_runs(moved), 6, DEFAULT_PROFILES[:1])
    assert before.choices[2] == after.choices[2]
    # the held-out fold's labels do move its out-of-fold score (they are scored, not chosen on)
    assert before.out_of_fold[0].raw_score != after.out_of_fold[0].raw_score


def test_the_held_out_detections_come_from_the_chosen_candidate() -> None:
    base = {n: 200 for n in NAMES if not n.startswith("artificialNo")}
    runs = _runs(base)
    # candidate "b" alarms at the start of every window: the best on any training set
    for name in list(runs["b"]):
        scores = np.zeros(400)
        if name in base:
            scores[base[name]] = 1.0
        runs["b"][name] = _scored(name, scores, [Window(200, 230)] if name in base else [])
    result = cross_validate(runs, 3, DEFAULT_PROFILES)
    assert {c.candidate for c in result.choices} == {"b"}
    assert choose(runs, NAMES, STANDARD)[0] == "b"
    for oof in result.out_of_fold:
        assert oof.normalized == pytest.approx(100.0)


@pytest.mark.skipif(not NAB.is_dir(), reason="../shared/data/nab is absent")
def test_cli_cv_json_on_a_subset(tmp_path: Path) -> None:
    from gridstream.cli import build_app

    data = tmp_path / "data"
    picks = [
        "artificialNoAnomaly/art_daily_small_noise.csv",
        "artificialNoAnomaly/art_flatline.csv",
        "artificialWithAnomaly/art_daily_jumpsup.csv",
        "artificialWithAnomaly/art_daily_flatmiddle.csv",
        "realKnownCause/ec2_request_latency_system_failure.csv",
        "realKnownCause/rogue_agent_key_hold.csv",
    ]
    for rel in picks:  # links into the shared data, nothing copied
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        (data / rel).symlink_to((NAB / "data" / rel).resolve())
    args = [
        "nab", "run", "--data", str(data), "--out", str(tmp_path / "out"),
        "--windows", str(NAB / "labels" / "combined_windows.json"), "--cv", "3", "--json",
    ]  # fmt: skip
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # nothing but the JSON on stdout
    assert sorted(n for fold in summary["folds"] for n in fold) == sorted(picks)
    assert len(summary["choices"]) == 3 * len(DEFAULT_PROFILES)
    assert {c["candidate"] for c in summary["choices"]} <= set(summary["candidates"])
    for profile in ("standard", "reward_low_FP_rate", "reward_low_FN_rate"):
        oof = summary["out_of_fold"][profile]["normalized"]
        inside = summary["in_sample"][profile]["normalized"]
        assert -100.0 < oof <= 100.0 and -100.0 < inside <= 100.0
    assert (tmp_path / "out" / "gridstream_cv3.json").is_file()
