"""Forecasts, a fast processor and a driver for the storage optimiser's join tests."""

from __future__ import annotations

import math
from collections.abc import Iterable

from gridstream.bus.processor import InRecord, OutRecord
from gridstream.bus.state import StateView
from gridstream.bus.topics import TopicNames
from gridstream.core.storage import BatteryFleet, FleetConfig, preset
from gridstream.schemas.forecast_pb2 import Forecast, ForecastStep
from gridstream.schemas.storage_pb2 import StorageSchedule
from gridstream.services.storage_optimizer.api import ScheduleBoard
from gridstream.services.storage_optimizer.service import (
    StorageOptimizerProcessor,
    repartition_topic,
)
from gridstream.services.storage_optimizer.state import JoinEntry

T0 = 1_656_633_600_000  # 2022-07-01 00:00 UTC
STEP = 900_000
HOUR = 3_600_000
STEPS = 16  # a 4-hour horizon: small LPs, quick solves
FIELDS = {"demand": "SYSTEM_DEMAND", "wind": "WIND_ACTUAL", "co2": "CO2_INTENSITY"}
TOPICS = TopicNames()
BY_REGION = repartition_topic(TOPICS)


def origin(i: int) -> int:
    return T0 + i * HOUR


def forecast(series: str, i: int) -> Forecast:
    """Series ``series`` issued at origin ``i`` (hourly), its level moving with the origin so
    that each plan differs from the last."""
    field = FIELDS[series]
    issue = origin(i)
    msg = Forecast(
        forecast_id=f"ALL/{field}@{issue}",
        series_id=f"ALL/{field}",
        region="ALL",
        field=field,
        issue_time_ms=issue,
        model_version=f"{series}-v1",
    )
    for k in range(1, STEPS + 1):
        phase = (4 * i + k) / 6.0
        value = {
            "demand": 4500 + 900 * math.sin(phase),
            "wind": 1200 + 400 * math.cos(phase / 2),
            "co2": 260 + 110 * math.sin(phase + 1.0),
        }[series]
        spread = 0.05 * value
        msg.steps.append(
            ForecastStep(
                target_time_ms=issue + k * STEP,
                horizon_minutes=15 * k,
                p10=value - spread,
                p50=value,
                p90=value + spread,
            )
        )
    return msg


def fleets() -> FleetConfig:
    fleet = BatteryFleet(
        region="ALL",
        energy_mwh=400.0,
        charge_mw=200.0,
        discharge_mw=200.0,
        terminal_soc=None,
        ramp_mw_per_step=200.0,
    )
    return FleetConfig(fleets={"ALL": fleet})


def processor(**options: object) -> StorageOptimizerProcessor:
    config = fleets()
    return StorageOptimizerProcessor(
        TOPICS,
        BY_REGION,
        config,
        preset("mixed", 0.5),
        ScheduleBoard(sorted(config.fleets)),
        horizon_steps=STEPS,
        **options,  # type: ignore[arg-type]
    )


class Driver:
    """Feeds forecasts to a processor as by-region records of one partition."""

    def __init__(self, proc: StorageOptimizerProcessor, view: StateView[JoinEntry]) -> None:
        self.proc = proc
        self.view = view
        self.offset = 0

    def send(self, forecasts: Iterable[Forecast]) -> list[OutRecord]:
        out: list[OutRecord] = []
        for f in forecasts:
            record = InRecord(BY_REGION, 0, self.offset, "ALL", f, f.issue_time_ms)
            self.offset += 1
            out += self.proc.process(record, self.view)
        return out


def schedules(out: Iterable[OutRecord]) -> list[StorageSchedule]:
    return [r.value for r in out if isinstance(r.value, StorageSchedule)]


def comparable(out: Iterable[OutRecord]) -> list[tuple[str, str, bytes]]:
    """Outputs as (topic, key, bytes) with the solver's wall time cleared."""
    rows = []
    for r in out:
        value = type(r.value)()
        value.CopyFrom(r.value)
        if isinstance(value, StorageSchedule):
            value.solve_ms = 0.0
        rows.append((r.topic, r.key, value.SerializeToString(deterministic=True)))
    return rows
