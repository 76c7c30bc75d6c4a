"""Out-of-fold NAB scoring: choose parameters on some files, score them on the others.

The development files are split into ``k`` folds by a stratified round-robin (files sorted by
category, then name, dealt out in turn), so every fold mixes categories: NAB normalises
against a perfect detector, so one category alone (``artificialNoAnomaly`` has no windows)
cannot be scored. For each fold and profile the candidate with the best normalised score on
the *other* folds (threshold optimised there, as NAB does) is chosen; its detections on the
held-out fold are kept. The pooled out-of-fold detections are then scored like NAB, threshold
optimisation included. The held-out fold's labels never reach the choice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gridstream.core.nab.profiles import CostProfile
from gridstream.core.nab.scorer import ProfileResult, ScoredFile, score_corpus
from gridstream.errors import ConfigError


def fold_split(names: Sequence[str], k: int) -> list[list[str]]:
    """Deal ``names`` (``category/file.csv``) into ``k`` folds, category by category.

    Deterministic (the input order does not matter) and every name lands in one fold.
    """
    if k < 2:
        raise ConfigError(f"--cv {k}: cross-validation needs at least 2 folds")
    if k > len(names):
        raise ConfigError(f"--cv {k}: more folds than the {len(names)} files")
    if len(set(names)) != len(names):
        raise ConfigError("fold_split: file names must be unique")
    ordered = sorted(names, key=lambda n: (n.rsplit("/", 1)[0] if "/" in n else "", n))
    folds: list[list[str]] = [[] for _ in range(k)]
    for i, name in enumerate(ordered):
        folds[i % k].append(name)
    return folds


@dataclass(frozen=True)
class FoldChoice:
    """The candidate chosen for one fold and profile, and its score on the other folds."""

    fold: int
    profile: str
    candidate: str
    train_score: float


@dataclass(frozen=True)
class CrossValResult:
    """Out-of-fold and in-sample results, per profile."""

    folds: list[list[str]]
    choices: list[FoldChoice]
    out_of_fold: list[ProfileResult]
    in_sample: list[ProfileResult]
    in_sample_choice: dict[str, str]


def _normalized(
    items: Sequence[ScoredFile], profile: CostProfile, null_scores: Mapping[str, float] | None
) -> ProfileResult:
    nulls = None if null_scores is None else dict(null_scores)
    return score_corpus(items, [profile], null_scores=nulls)[0]


def choose(
    runs: Mapping[str, Mapping[str, ScoredFile]],
    train: Sequence[str],
    profile: CostProfile,
    null_scores: Mapping[str, float] | None = None,
) -> tuple[str, float]:
    """The candidate with the best normalised score on the ``train`` files (ties: first).

    ``runs`` maps candidate name -> file name -> that candidate's scored file.
    """
    best_name, best_score = "", float("-inf")
    for name, by_file in runs.items():
        score = _normalized([by_file[f] for f in train], profile, null_scores).normalized
        if score > best_score:
            best_name, best_score = name, score
    return best_name, best_score


def cross_validate(
    runs: Mapping[str, Mapping[str, ScoredFile]],
    k: int,
    profiles: Sequence[CostProfile],
    null_scores: Mapping[str, float] | None = None,
) -> CrossValResult:
    """Choose a candidate per fold on the other folds; score the pooled held-out detections.

    ``null_scores`` is NAB's stored null baseline (per profile, whole corpus) when the
    official normalisation is wanted for the reported figures. The choice itself uses the
    plain normalisation: for a fixed set of files both are the same increasing map of the raw
    score, so they rank candidates alike.
    """
    if not runs:
        raise ConfigError("cross_validate: no candidates")
    names = sorted(next(iter(runs.values())))
    folds = fold_split(names, k)
    choices: list[FoldChoice] = []
    out_of_fold: list[ProfileResult] = []
    in_sample: list[ProfileResult] = []
    in_sample_choice: dict[str, str] = {}
    for profile in profiles:
        pooled: list[ScoredFile] = []
        for index, held in enumerate(folds):
            train = [n for n in names if n not in held]
            name, score = choose(runs, train, profile)
            choices.append(FoldChoice(index, profile.name, name, round(score, 2)))
            pooled.extend(runs[name][f] for f in held)
        pooled.sort(key=lambda item: item.name)
        out_of_fold.append(_normalized(pooled, profile, null_scores))
        best, _ = choose(runs, names, profile)
        in_sample_choice[profile.name] = best
        in_sample.append(_normalized([runs[best][n] for n in names], profile, null_scores))
    return CrossValResult(folds, choices, out_of_fold, in_sample, in_sample_choice)
