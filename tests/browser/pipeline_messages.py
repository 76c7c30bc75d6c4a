"""Messages a running pipeline would put on its topics, built for the dashboard tests.

Readings come from the real recorded data when ``../shared/data`` is present (two days of
July 2022), otherwise from a daily-shaped curve; forecasts, anomalies, an alert, a battery
schedule and proposed actions are derived from those readings.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gridstream.schemas import (
    alert_pb2,
    anomaly_pb2,
    common_pb2,
    forecast_pb2,
    readings_pb2,
    rebalance_pb2,
    storage_pb2,
)

STEP_MS = 15 * 60_000
UNITS = {"SYSTEM_DEMAND": "MW", "WIND_ACTUAL": "MW", "CO2_INTENSITY": "gCO2/kWh", "SNSP_ALL": "%"}
START_MS = 1_656_633_600_000  # 2022-07-01T00:00Z


def readings(data_root: Path | None, points: int) -> list[tuple[str, int, float]]:
    """(series_id, ts_ms, value) in time order for the four headline series of ALL."""
    if data_root is not None and data_root.exists():
        import pandas as pd

        from gridstream.sources.recorded import list_files, read_frame

        areas = ["demandactual", "windactual", "co2intensity", "SnspALL"]
        frame = read_frame(list_files(data_root, regions=["ALL"], areas=areas, years=[2022]))
        start = pd.Timestamp(START_MS, unit="ms", tz="UTC")
        frame = frame[
            (frame["ts"] >= start) & (frame["ts"] < start + pd.Timedelta(minutes=15 * points))
        ]
        return [
            (f"{r.region}/{r.field}", int(r.ts.value // 1_000_000), float(r.value))
            for r in frame.itertuples()
        ]
    out = []
    for i in range(points):
        t = START_MS + i * STEP_MS
        day = math.sin(2 * math.pi * ((i % 96) - 30) / 96)
        out.append(("ALL/SYSTEM_DEMAND", t, 4800 + 1100 * day))
        out.append(("ALL/WIND_ACTUAL", t, 1800 + 900 * math.sin(i / 40)))
        out.append(("ALL/CO2_INTENSITY", t, 260 - 60 * math.sin(i / 40)))
        if i % 2 == 0:
            out.append(("ALL/SNSP_ALL", t, 55 + 15 * math.sin(i / 40)))
    return out


def _reading_fields(series: str, ts: int, value: float) -> dict[str, Any]:
    """The fields every per-reading message of ``series`` (``REGION/FIELD``) carries."""
    region, field = series.split("/")
    return {
        "record_id": f"{series}@{ts}",
        "series_id": series,
        "region": region,
        "field": field,
        "ts_ms": ts,
        "value": value,
    }


def clean(series: str, ts: int, value: float) -> readings_pb2.CleanReading:
    field = series.split("/")[1]
    return readings_pb2.CleanReading(
        **_reading_fields(series, ts, value),
        unit=UNITS[field],
        interval_minutes=30 if field == "SNSP_ALL" else 15,
        source="replay",
    )


def forecast(series: str, issue: int, level: float, steps: int = 8) -> forecast_pb2.Forecast:
    region, field = series.split("/")
    fc = forecast_pb2.Forecast(
        forecast_id=f"{series}@{issue}",
        series_id=series,
        region=region,
        field=field,
        issue_time_ms=issue,
        model_version="test-1",
        model_kind="lightgbm-quantile",
        unit=UNITS[field],
    )
    for h in range(1, steps + 1):
        spread = 0.03 * level * math.sqrt(h)
        fc.steps.add(
            target_time_ms=issue + h * STEP_MS,
            horizon_minutes=15 * h,
            p10=level - spread,
            p50=level,
            p90=level + spread,
        )
    return fc


def anomaly(series: str, ts: int, value: float) -> anomaly_pb2.Anomaly:
    return anomaly_pb2.Anomaly(
        **_reading_fields(series, ts, value),
        score=0.97,
        is_anomaly=True,
        label="spike",
        severity=common_pb2.SEVERITY_WARNING,
        explanation="reading far outside the P10-P90 band",
    )


def alert(ts: int, fingerprint: str = "fp-demand-miss") -> alert_pb2.Alert:
    a = alert_pb2.Alert(
        fingerprint=fingerprint,
        name="DemandForecastMiss",
        state=alert_pb2.ALERT_STATE_FIRING,
        severity=common_pb2.SEVERITY_CRITICAL,
        starts_at_ms=ts,
        updated_at_ms=ts,
        occurrences=3,
    )
    a.labels.update({"region": "ALL", "field": "SYSTEM_DEMAND"})
    a.annotations["summary"] = "Demand outside the forecast band for 45 minutes"
    return a


def schedule(issue: int) -> storage_pb2.StorageSchedule:
    s = storage_pb2.StorageSchedule(
        schedule_id=f"ALL@{issue}",
        region="ALL",
        issue_time_ms=issue,
        objective="co2",
        solver_status="Optimal",
        solve_ms=12.5,
        forecast_ids=[f"ALL/SYSTEM_DEMAND@{issue}"],
    )
    soc = 200.0
    for h in range(96):
        charge = 80.0 if 8 <= h < 24 else 0.0
        discharge = 90.0 if 68 <= h < 84 else 0.0
        soc += (charge * 0.92 - discharge / 0.92) / 4
        s.steps.add(
            ts_ms=issue + h * STEP_MS, charge_mw=charge, discharge_mw=discharge, soc_mwh=soc
        )
    return s


def action(action_id: str, issue: int, kind: int) -> rebalance_pb2.RebalanceAction:
    return rebalance_pb2.RebalanceAction(
        action_id=action_id,
        region="ALL",
        kind=kind,
        magnitude_mw=120.0,
        reason="forecast P90 demand exceeds available margin",
        approval=rebalance_pb2.APPROVAL_STATE_PROPOSED,
        created_at_ms=issue,
        effective_from_ms=issue + STEP_MS,
        effective_until_ms=issue + 5 * STEP_MS,
        mode="advisory",
        policy_version="test",
        evidence=[f"ALL/SYSTEM_DEMAND@{issue}"],
    )


def demand_forecasts(
    rows: list[tuple[str, int, float]], every: int = 4
) -> Iterator[forecast_pb2.Forecast]:
    demand = [(t, v) for s, t, v in rows if s == "ALL/SYSTEM_DEMAND"]
    for i, (t, v) in enumerate(demand):
        if i % every == 0:
            yield forecast("ALL/SYSTEM_DEMAND", t, v)
