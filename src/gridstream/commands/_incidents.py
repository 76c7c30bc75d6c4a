"""``gridstream anomaly incidents``: every recorded incident replayed, judged and plotted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from gridstream.commands._incident_replay import Replay, load_series
from gridstream.core.anomaly.incidents import (
    DAY_MS,
    INCIDENTS,
    Firing,
    Incident,
    Verdict,
    false_alarm_rate,
    incident_start,
    judge,
    utc_ms,
)

#: the detector learns each series' level and spread over this much data before an incident
WARM_UP_MS = 14 * DAY_MS
#: the series that drives the stream's clock in every replay (as on a partition)
CLOCK_SERIES = "ALL/SYSTEM_DEMAND"
Progress = Callable[[int, int, str], None]


def _replay(data: Path, series: list[str], from_ms: int, to_ms: int) -> tuple[pd.DataFrame, Replay]:
    wanted = series if CLOCK_SERIES in series else [*series, CLOCK_SERIES]
    frame = load_series(data, wanted, from_ms, to_ms)
    replay = Replay()
    replay.run(frame)
    return frame, replay


def run_incident(data: Path, incident: Incident, plot_dir: Path | None) -> Verdict:
    frame, replay = _replay(
        data, list(incident.series), incident.window_from_ms - WARM_UP_MS, incident.window_to_ms
    )
    first = frame[frame["series"] == incident.series[0]]
    start, end = incident_start(incident, first["ts_ms"].tolist(), first["value"].tolist(), 900_000)
    verdict = judge(incident, start, end, replay.firings)
    if plot_dir is not None:
        plot_incident(frame, replay.firings, incident, verdict, plot_dir)
    return verdict


def false_alarms(
    data: Path, series: list[str], from_ms: int, to_ms: int, excluded: list[tuple[int, int]]
) -> tuple[float, int]:
    """Firings per series per month outside the incidents, and the number of firings counted."""
    _, replay = _replay(data, series, from_ms - WARM_UP_MS, to_ms)
    rate = false_alarm_rate(replay.firings, excluded, series, from_ms, to_ms)
    counted = [f for f in replay.firings if f.series in series and from_ms <= f.at_ms < to_ms]
    outside = [f for f in counted if not any(lo <= f.at_ms < hi for lo, hi in excluded)]
    return rate, len(outside)


def run_all(
    data: Path,
    plot_dir: Path | None,
    fa_from: str,
    fa_to: str,
    progress: Progress | None = None,
) -> dict[str, Any]:
    verdicts: list[Verdict] = []
    total = len(INCIDENTS) + 1
    for i, incident in enumerate(INCIDENTS):
        if progress is not None:
            progress(i, total, incident.name)
        verdicts.append(run_incident(data, incident, plot_dir))
    if progress is not None:
        progress(len(INCIDENTS), total, f"false alarms {fa_from}..{fa_to}")
    series = sorted({s for inc in INCIDENTS for s in inc.series})
    excluded = [(v.start_ms - DAY_MS, max(v.end_ms, v.start_ms) + DAY_MS) for v in verdicts]
    rate, count = false_alarms(data, series, utc_ms(fa_from), utc_ms(fa_to), excluded)
    if progress is not None:
        progress(total, total, "done")
    return {
        "incidents": [asdict(v) for v in verdicts],
        "passed": sum(v.passed for v in verdicts),
        "total": len(verdicts),
        "false_alarms": {
            "from": fa_from,
            "to": fa_to,
            "series": series,
            "firings_outside_incidents": count,
            "per_series_per_month": round(rate, 3),
            "target": 1.0,
        },
        "note": "no forecaster in this replay: the forecast-residual rules cannot fire",
    }


def plot_incident(
    frame: pd.DataFrame, firings: list[Firing], incident: Incident, verdict: Verdict, out: Path
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    lo = verdict.start_ms - 3 * DAY_MS
    hi = max(verdict.end_ms, verdict.start_ms) + 2 * DAY_MS
    fig, axes = plt.subplots(
        len(incident.series), 1, figsize=(12, 2.8 * len(incident.series)), squeeze=False
    )
    for ax, sid in zip(axes[:, 0], incident.series, strict=True):
        rows = frame[(frame["series"] == sid) & (frame["ts_ms"] >= lo) & (frame["ts_ms"] < hi)]
        ax.plot(pd.to_datetime(rows["ts_ms"], unit="ms"), rows["value"], lw=0.8, color="black")
        ax.axvspan(
            pd.to_datetime(verdict.start_ms, unit="ms"),
            pd.to_datetime(max(verdict.end_ms, verdict.start_ms + 900_000), unit="ms"),
            color="orange",
            alpha=0.25,
            label="incident",
        )
        for f in firings:
            if f.series == sid and lo <= f.at_ms < hi:
                ax.axvline(pd.to_datetime(f.at_ms, unit="ms"), color="red", lw=0.8, alpha=0.7)
        ax.set_title(f"{sid}: red lines are alerts firing", fontsize=9)
    status = "passed" if verdict.passed else "missed target"
    fig.suptitle(f"{incident.name} ({status})")
    fig.tight_layout()
    name = "".join(c if c.isalnum() else "_" for c in incident.name).strip("_")
    path = out / f"{name}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
