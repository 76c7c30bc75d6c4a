"""What the rebalancer knows about each region, kept as keyed state, and the policy's inputs.

Entries (JSON-able dicts in the runner's keyed state, so they survive restarts):

- ``fc|{region}|{series}`` / ``fcprev|...``: the latest (and previous) forecast trajectory;
- ``plan|{region}``: the latest storage schedule's net power per step;
- ``suspect|{id}``: a firing stuck-feed/gap alert or anomaly on a series (deleted on recovery);
- ``obs|{region}|{series}``: the latest reading seen (from the anomaly detector's verdicts).
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter, itemgetter
from typing import Any

from gridstream.core.rebalance import (
    Alert,
    Interconnector,
    Observation,
    PolicyInputs,
    SeriesForecast,
    StoragePlan,
)
from gridstream.schemas import alert_pb2, anomaly_pb2, forecast_pb2, storage_pb2
from gridstream.services.grid_rebalancer.forecast_entry import ForecastEntry, p50_at, window

Entry = dict[str, Any]
STEP_MS = 900_000
FIELD_SERIES = {
    "SYSTEM_DEMAND": "demand",
    "WIND_ACTUAL": "wind",
    "SNSP_ALL": "snsp",
    "CO2_INTENSITY": "co2",
}
SUSPECT_LABELS = ("stuck", "gap", "flatline")
_PLAN_ROW = attrgetter("ts_ms", "discharge_mw", "charge_mw")


def split_series(series_id: str) -> tuple[str, str]:
    region, _, field = series_id.partition("/")
    return region, FIELD_SERIES.get(field, field.lower())


def forecast_entry(msg: forecast_pb2.Forecast) -> tuple[str, Entry] | None:
    """The forecast's entry: its steps in target order (SNSP as a fraction), read from the
    message as far as they are needed (:class:`ForecastEntry`)."""
    series = FIELD_SERIES.get(msg.field)
    if series is None or not msg.steps:
        return None
    region = msg.region or msg.series_id.partition("/")[0]
    return f"fc|{region}|{series}", ForecastEntry(msg, series)


def plan_entry(msg: storage_pb2.StorageSchedule) -> tuple[str, Entry]:
    # each step's fields read by one C call, sorted by time (stable)
    rows = sorted(map(_PLAN_ROW, msg.steps), key=itemgetter(0))
    entry = {
        "schedule_id": msg.schedule_id,
        "issue_ms": msg.issue_time_ms,
        "fallback": msg.fallback,
        "steps": [[ts, discharge - charge] for ts, discharge, charge in rows],
    }
    return f"plan|{msg.region}", entry


def alert_entry(msg: alert_pb2.Alert) -> tuple[str, Entry | None]:
    """A suspect-feed entry for a firing stuck/stale alert; None (delete) otherwise."""
    labels = dict(msg.labels)
    name = msg.name.lower()
    if "stuck" in name or labels.get("event_kind") == "feed_stuck":
        kind = "stuck"
    elif labels.get("kind") == "staleness" or "stale" in name:
        kind = "gap"
    else:
        kind = labels.get("kind", "alert")
    key = f"suspect|{msg.fingerprint}"
    series_id = labels.get("series", "")
    region, series = split_series(series_id)
    region = labels.get("region", region)
    firing = msg.state == alert_pb2.ALERT_STATE_FIRING
    if not firing or kind not in SUSPECT_LABELS or not region:
        return key, None
    return key, {"id": msg.fingerprint, "region": region, "series": series, "kind": kind}


def anomaly_entries(msg: anomaly_pb2.Anomaly) -> list[tuple[str, Entry | None]]:
    """The reading as an observation, and a suspect entry while the feed is stuck/gappy."""
    region, series = split_series(msg.series_id)
    out: list[tuple[str, Entry | None]] = [
        (f"obs|{region}|{series}", {"ts": msg.ts_ms, "value": msg.value})
    ]
    key = f"suspect|anomaly|{msg.series_id}"
    if msg.is_anomaly and msg.label in SUSPECT_LABELS:
        out.append(
            (key, {"id": msg.record_id, "region": region, "series": series, "kind": msg.label})
        )
    else:
        out.append((key, None))
    return out


def series_forecast(region: str, series: str, entry: Entry, window_ms: int) -> SeriesForecast:
    start, end, p10_max, p50_max, p90_max = window(entry, window_ms)
    return SeriesForecast(
        forecast_id=entry["forecast_id"],
        region=region,
        series=series,
        model_version=entry["model_version"],
        start_ms=start,
        end_ms=end,
        p10_max=p10_max,
        p50_max=p50_max,
        p90_max=p90_max,
    )


def expected_at(entries: Iterable[Entry | None], ts: int) -> float | None:
    """The P50 a forecast gave for time ``ts`` (the newest forecast that covers it)."""
    for entry in entries:
        if entry is not None:
            expected = p50_at(entry, ts)
            if expected is not None:
                return expected
    return None


def storage_plan(region: str, entry: Entry, now_ms: int) -> StoragePlan | None:
    """The schedule's setpoint for the step in force at ``now_ms`` (or the next one)."""
    steps = [s for s in entry["steps"] if s[0] + STEP_MS > now_ms]
    if not steps:
        return None
    ts, net = steps[0]
    return StoragePlan(
        entry["schedule_id"], region, int(ts), int(ts) + STEP_MS, float(net), entry["fallback"]
    )


def policy_inputs(
    region: str,
    entries: dict[str, Entry],
    now_ms: int,
    window_ms: int,
    interconnectors: Iterable[Interconnector],
) -> PolicyInputs:
    """The policy's view of one region from the merged keyed state."""
    forecasts = []
    prefix = f"fc|{region}|"
    for key, entry in sorted(entries.items()):
        if key.startswith(prefix):
            forecasts.append(series_forecast(region, key[len(prefix) :], entry, window_ms))
    storage = []
    plan = entries.get(f"plan|{region}")
    if plan is not None:
        current = storage_plan(region, plan, now_ms)
        if current is not None:
            storage.append(current)
    observations = []
    obs = entries.get(f"obs|{region}|demand")
    if obs is not None:
        expected = expected_at(
            (entries.get(f"fc|{region}|demand"), entries.get(f"fcprev|{region}|demand")),
            int(obs["ts"]),
        )
        if expected is not None:
            observations.append(Observation(region, "demand", float(obs["value"]), expected))
    alerts = [
        Alert(e["id"], e["region"], e["series"], e["kind"])
        for key, e in sorted(entries.items())
        if key.startswith("suspect|") and e["region"] == region
    ]
    return PolicyInputs(
        now_ms=now_ms,
        forecasts=tuple(forecasts),
        storage=tuple(storage),
        observations=tuple(observations),
        alerts=tuple(alerts),
        interconnectors=tuple(ic for ic in interconnectors if ic.region == region),
    )
