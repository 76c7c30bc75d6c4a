"""NAB scoring of a corpus: threshold sweep, per-profile optimisation and normalisation.

The raw score of a file at threshold ``t`` counts every scored row whose anomaly score is at
least ``t`` as a detection: each window earns the weight of its best (earliest) detection or
``-fn_weight`` when missed, each detection outside windows adds its (negative) FP weight.
The threshold is chosen per profile to maximise the corpus total; the reported score is
``100 * (raw - null) / (perfect - null)`` where the null detector misses every window and the
perfect one catches each at its first row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gridstream.core.nab.profiles import DEFAULT_PROFILES, CostProfile
from gridstream.core.nab.sweep import NO_WINDOW, RowWeights

NOTHING_DETECTED_THRESHOLD = 1.1
_FILE_STRIDE = 1 << 32


@dataclass(frozen=True)
class ScoredFile:
    """One file ready to score: its name, detector scores per row and NAB row weights."""

    name: str
    scores: npt.NDArray[np.float64]
    weights: RowWeights
    n_labelled_windows: int


@dataclass(frozen=True)
class FileScore:
    """A file's raw NAB score at one threshold, with NAB's per-row confusion counts."""

    name: str
    threshold: float
    score: float
    tp: int
    tn: int
    fp: int
    fn: int
    total: int


@dataclass(frozen=True)
class ProfileResult:
    """The corpus result of one profile."""

    profile: str
    threshold: float
    raw_score: float
    null_score: float
    perfect_score: float
    normalized: float
    files: tuple[FileScore, ...]


def score_file(item: ScoredFile, profile: CostProfile, threshold: float) -> FileScore:
    """The raw score of one file at ``threshold`` (NAB's per-file ``*_scores.csv`` row)."""
    keep = item.weights.keep
    scores = item.scores[keep]
    wid = item.weights.window_id[keep]
    weighted = item.weights.weighted(profile)[keep]
    detected = scores >= threshold
    outside = wid == NO_WINDOW
    total = float(np.sum(weighted[detected & outside]))
    for w in np.unique(wid[~outside]):
        hits = detected & (wid == w)
        total += float(np.max(weighted[hits])) if hits.any() else -profile.fn_weight
    return FileScore(
        name=item.name,
        threshold=threshold,
        score=total,
        tp=int(np.sum(detected & ~outside)),
        tn=int(np.sum(~detected & outside)),
        fp=int(np.sum(detected & outside)),
        fn=int(np.sum(~detected & ~outside)),
        total=int(scores.size),
    )


def threshold_sweep(
    items: Sequence[ScoredFile], profile: CostProfile
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Corpus raw score at every distinct threshold, highest threshold first.

    The first entry is the "detect nothing" threshold (above every score).
    """
    scores_l, weights_l, wid_l = [], [], []
    for index, item in enumerate(items):
        keep = item.weights.keep
        wid = item.weights.window_id[keep]
        scores_l.append(item.scores[keep])
        weights_l.append(item.weights.weighted(profile)[keep])
        wid_l.append(np.where(wid == NO_WINDOW, NO_WINDOW, wid + index * _FILE_STRIDE))
    if not scores_l:
        return np.array([NOTHING_DETECTED_THRESHOLD]), np.array([0.0])
    scores = np.concatenate(scores_l)
    weights = np.concatenate(weights_l)
    wids = np.concatenate(wid_l)
    order = np.argsort(-scores, kind="stable")
    s, w, win = scores[order], weights[order], wids[order]
    delta = np.where(win == NO_WINDOW, w, 0.0)
    base = 0.0
    for k in np.unique(win[win != NO_WINDOW]):
        mask = win == k
        running = np.maximum.accumulate(np.concatenate(([-profile.fn_weight], w[mask])))
        delta[mask] = np.diff(running)
        base -= profile.fn_weight
    cumulative = base + np.cumsum(delta)
    last_of_tie = np.ones(s.size, dtype=np.bool_)
    last_of_tie[:-1] = s[:-1] != s[1:]
    thresholds = np.concatenate(([NOTHING_DETECTED_THRESHOLD], s[last_of_tie]))
    totals = np.concatenate(([base], cumulative[last_of_tie]))
    return thresholds, totals


def optimize_threshold(items: Sequence[ScoredFile], profile: CostProfile) -> tuple[float, float]:
    """The threshold that maximises the corpus raw score (ties: the highest threshold)."""
    thresholds, totals = threshold_sweep(items, profile)
    best = int(np.argmax(totals))
    return float(thresholds[best]), float(totals[best])


def normalize(
    raw: float, n_windows: int, profile: CostProfile, null_score: float | None = None
) -> tuple[float, float, float]:
    """``(normalized, null, perfect)``: 0 for the null detector, 100 for the perfect one.

    The null detector misses every window (``-fn_weight`` each) unless ``null_score`` gives
    its raw total explicitly. NAB's own scorer reads that baseline from the stored null
    results (``results/null/null_<profile>_scores.csv``, whole 58-file corpus) while the
    perfect score counts the windows of the scored files; pass that total here to reproduce
    the official figures on a subset.
    """
    null = -profile.fn_weight * n_windows if null_score is None else null_score
    perfect = profile.tp_weight * n_windows
    if perfect == null:
        return 0.0, null, perfect
    return 100.0 * (raw - null) / (perfect - null), null, perfect


def score_corpus(
    items: Sequence[ScoredFile],
    profiles: Sequence[CostProfile] = DEFAULT_PROFILES,
    thresholds: dict[str, float] | None = None,
    null_scores: dict[str, float] | None = None,
) -> list[ProfileResult]:
    """Score a corpus under each profile, optimising the threshold unless one is given.

    ``null_scores`` (profile name -> raw total) overrides the null baseline, see ``normalize``.
    """
    n_windows = sum(item.n_labelled_windows for item in items)
    out: list[ProfileResult] = []
    for profile in profiles:
        if thresholds is not None and profile.name in thresholds:
            threshold = thresholds[profile.name]
        else:
            threshold, _ = optimize_threshold(items, profile)
        files = tuple(score_file(item, profile, threshold) for item in items)
        raw = sum(f.score for f in files)
        null_override = None if null_scores is None else null_scores.get(profile.name)
        normalized, null, perfect = normalize(raw, n_windows, profile, null_override)
        out.append(ProfileResult(profile.name, threshold, raw, null, perfect, normalized, files))
    return out
