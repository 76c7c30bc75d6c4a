"""``gridstream nab run --cv K``: out-of-fold NAB scores of the detector's candidate grid."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gridstream.errors import ConfigError

Progress = Callable[[int, int, str], None]  # (done, total, what)


def _entry(result: Any) -> dict[str, Any]:
    return {
        "threshold": result.threshold,
        "raw_score": round(result.raw_score, 4),
        "normalized": round(result.normalized, 2),
    }


def run_cv(
    data: Path,
    windows: Path,
    baseline: Path | None,
    k: int,
    candidates: dict[str, dict[str, Any]],
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Detect every labelled file with every candidate, then cross-validate the choice."""
    from gridstream.commands._nab_corpus import detect_scores, null_totals_for, read_series
    from gridstream.core.nab.crossval import cross_validate
    from gridstream.core.nab.profiles import DEFAULT_PROFILES
    from gridstream.core.nab.scorer import ScoredFile
    from gridstream.core.nab.sweep import row_weights
    from gridstream.core.nab.windows import windows_to_indices

    labels: dict[str, list[list[str]]] = json.loads(windows.read_text())
    files = sorted(p for p in data.rglob("*.csv") if p.is_file())
    labelled = [p for p in files if p.relative_to(data).as_posix() in labels]
    if not labelled:
        raise ConfigError(f"no CSV under {data} has labels in {windows}")
    started = time.perf_counter()
    series = []
    for path in labelled:
        rel = path.relative_to(data).as_posix()
        frame, ts = read_series(path)
        wins = windows_to_indices(ts, labels[rel], rel)
        series.append((rel, ts, frame["value"].to_numpy(dtype=float), wins))
    runs: dict[str, dict[str, ScoredFile]] = {}
    total = len(candidates) * len(series)
    for c, (name, params) in enumerate(candidates.items()):
        runs[name] = {}
        for f, (rel, ts, values, wins) in enumerate(series):
            if progress is not None:
                progress(c * len(series) + f, total, f"{name} {rel}")
            scores = detect_scores(ts, values, params)
            runs[name][rel] = ScoredFile(rel, scores, row_weights(len(ts), wins), len(wins))
    if progress is not None:
        progress(total, total, "scoring folds")
    nulls = null_totals_for(windows, baseline)
    res = cross_validate(runs, k, DEFAULT_PROFILES, nulls)
    return {
        "protocol": f"{k}-fold cross-validation over {len(labelled)} labelled files",
        "folds": res.folds,
        "candidates": list(candidates),
        "candidate_params": candidates,
        "choices": [vars(c) for c in res.choices],
        "out_of_fold": {r.profile: _entry(r) for r in res.out_of_fold},
        "in_sample": {
            r.profile: {**_entry(r), "candidate": res.in_sample_choice[r.profile]}
            for r in res.in_sample
        },
        "normalisation": "NAB null baseline" if nulls else "own null (misses every window)",
        "detect_seconds": round(time.perf_counter() - started, 2),
    }
