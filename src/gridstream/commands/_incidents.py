"""``gridstream anomaly incidents``: every recorded incident replayed, judged and plotted."""

from __future__ import annotations

from collections import Counter
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
    firings_outside,
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
) -> dict[str, Any]:
    """Firings per series per month outside the incidents, in all and per rule and per year."""
    _, replay = _replay(data, series, from_ms - WARM_UP_MS, to_ms)
    outside = firings_outside(replay.firings, excluded, series, from_ms, to_ms)
    by_year: dict[str, float] = {}
    year = pd.Timestamp(from_ms, unit="ms").year
    while (lo := utc_ms(f"{year}-01-01T00:00")) < to_ms:
        hi = min(utc_ms(f"{year + 1}-01-01T00:00"), to_ms)
        rate = false_alarm_rate(outside, [], series, max(lo, from_ms), hi)
        by_year[str(year)] = round(rate, 3)
        year += 1
    return {
        "firings_outside_incidents": len(outside),
        "per_series_per_month": round(false_alarm_rate(outside, [], series, from_ms, to_ms), 3),
        "per_year": by_year,
        "by_rule": dict(Counter(f.rule for f in outside).most_common()),
        "by_series": dict(Counter(f.series for f in outside).most_common()),
    }


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
    alarms = false_alarms(data, series, utc_ms(fa_from), utc_ms(fa_to), excluded)
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
            **alarms,
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
    # context in proportion to the incident: half a day around a spike, days around a freeze
    span = max(verdict.end_ms - verdict.start_ms, 0)
    margin = min(max(DAY_MS // 2, 2 * span), 3 * DAY_MS)
    lo = verdict.start_ms - margin
    hi = max(verdict.end_ms, verdict.start_ms) + min(margin, 2 * DAY_MS)
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
        shown = [f for f in firings if f.series == sid and lo <= f.at_ms < hi]
        for f in shown:
            ax.axvline(pd.to_datetime(f.at_ms, unit="ms"), color="red", lw=0.8, alpha=0.7)
        rules = ", ".join(sorted({f.rule for f in shown})) or "none"
        ax.set_title(f"{sid}: red lines are alerts firing ({rules})", fontsize=9)
    if verdict.delay_minutes is not None:
        status = f"flagged after {verdict.delay_minutes:g} min"
    else:
        status = "not flagged"
    target = "passed" if verdict.passed else "missed target"
    fig.suptitle(f"{incident.name}: {status} ({target}), UTC")
    fig.tight_layout()
    name = "".join(c if c.isalnum() else "_" for c in incident.name).strip("_")
    path = out / f"{name}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
