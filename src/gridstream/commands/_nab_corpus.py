"""Running the streaming detector over a NAB corpus and scoring it: the work behind
``gridstream nab run``, shared by its cross-validation and the NAB benchmark script."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from gridstream.errors import ConfigError

log = logging.getLogger("gridstream.commands.nab")
DETECTOR_NAME = "gridstream"


def _read_null_totals(null_dir: Path) -> dict[str, float]:
    """Raw totals of NAB's stored null detector (the baseline NAB's scorer normalises with)."""
    import pandas as pd

    out: dict[str, float] = {}
    for path in sorted(null_dir.glob("null_*_scores.csv")):
        profile = path.name[len("null_") : -len("_scores.csv")]
        frame = pd.read_csv(path)
        out[profile] = float(frame["Score"].iloc[-1])
    return out


def _baseline_dir(windows: Path | None, baseline: Path | None) -> Path | None:
    if baseline is None:
        guess = windows.parent.parent / "results" / "null" if windows else None
        baseline = guess if guess is not None and guess.is_dir() else None
    return baseline


def null_totals_for(windows: Path | None, baseline: Path | None) -> dict[str, float] | None:
    """NAB's null totals from ``baseline`` (default: results/null beside the labels)."""
    found = _baseline_dir(windows, baseline)
    return _read_null_totals(found) if found is not None else None


def read_series(path: Path) -> tuple[Any, Any]:
    """A NAB CSV as ``(frame, timestamps)``; a clear error when the columns are missing."""
    import pandas as pd

    frame = pd.read_csv(path)
    if not {"timestamp", "value"} <= set(frame.columns):
        raise ConfigError(f"{path} lacks the NAB columns timestamp,value")
    ts = pd.to_datetime(frame["timestamp"]).to_numpy(dtype="datetime64[ns]")
    return frame, ts


def detect_scores(ts: Any, values: Any, params: dict[str, Any]) -> Any:
    """Stream one series through a fresh detector with ``params``; its score per row."""
    import numpy as np

    from gridstream.core.anomaly.ensemble import EnsembleDetector

    detector = EnsembleDetector(**params)
    ts_ms = (ts.astype("int64") // 1_000_000).tolist()
    return np.array(
        [detector.score_one(t, v) for t, v in zip(ts_ms, values.tolist(), strict=True)],
        dtype=float,
    )


def run_corpus(
    data: Path, out: Path, windows: Path | None, baseline: Path | None
) -> dict[str, Any]:
    """Detect over every CSV under ``data``, write NAB's layout, score when labels exist."""
    import numpy as np
    import pandas as pd

    from gridstream.core.anomaly.presets import DEFAULT_PARAMS
    from gridstream.core.nab.profiles import DEFAULT_PROFILES
    from gridstream.core.nab.scorer import ScoredFile, score_corpus
    from gridstream.core.nab.sweep import row_weights
    from gridstream.core.nab.windows import windows_to_indices

    files = sorted(p for p in data.rglob("*.csv") if p.is_file())
    if not files:
        raise ConfigError(f"no CSV files under {data}; point --data at NAB's data/ folder")
    labels: dict[str, list[list[str]]] | None = None
    if windows is not None:
        labels = json.loads(windows.read_text())
    started = time.perf_counter()
    items: list[ScoredFile] = []
    for path in files:
        rel = path.relative_to(data).as_posix()
        frame, ts = read_series(path)
        scores = detect_scores(ts, frame["value"].to_numpy(dtype=float), DEFAULT_PARAMS)
        label = np.zeros(len(frame), dtype=int)
        if labels is not None and rel in labels:
            wins = windows_to_indices(ts, labels[rel], rel)
            for w in wins:
                label[w.start : w.end + 1] = 1
            items.append(ScoredFile(rel, scores, row_weights(len(scores), wins), len(wins)))
        target = (
            out / DETECTOR_NAME / path.parent.relative_to(data) / f"{DETECTOR_NAME}_{path.name}"
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(
            {
                "timestamp": frame["timestamp"],
                "value": frame["value"],
                "anomaly_score": scores,
                "label": label,
            }
        ).to_csv(target, index=False)
        log.info("%s: %d rows", rel, len(frame))
    result: dict[str, Any] = {
        "detector": DETECTOR_NAME,
        "params": DEFAULT_PARAMS,
        "files": len(files),
        "detect_seconds": round(time.perf_counter() - started, 2),
        "results_dir": str(out / DETECTOR_NAME),
    }
    if labels is None:
        return result
    null_totals = null_totals_for(windows, baseline)
    baseline = _baseline_dir(windows, baseline)
    own = score_corpus(items, DEFAULT_PROFILES)
    official = (
        score_corpus(items, DEFAULT_PROFILES, null_scores=null_totals) if null_totals else None
    )
    scores_out: dict[str, Any] = {}
    for i, res in enumerate(own):
        entry: dict[str, Any] = {
            "threshold": res.threshold,
            "raw_score": round(res.raw_score, 4),
            "normalized": round(res.normalized, 2),
        }
        if official is not None:
            entry["normalized_nab_baseline"] = round(official[i].normalized, 2)
        scores_out[res.profile] = entry
        frame = pd.DataFrame(
            [
                {
                    "Detector": DETECTOR_NAME,
                    "Profile": res.profile,
                    "File": f.name,
                    "Threshold": f.threshold,
                    "Score": f.score,
                    "TP": f.tp,
                    "TN": f.tn,
                    "FP": f.fp,
                    "FN": f.fn,
                    "Total_Count": f.total,
                }
                for f in res.files
            ]
        )
        frame.to_csv(out / DETECTOR_NAME / f"{DETECTOR_NAME}_{res.profile}_scores.csv", index=False)
    result["scores"] = scores_out
    result["null_baseline"] = str(baseline) if baseline is not None else None
    return result
