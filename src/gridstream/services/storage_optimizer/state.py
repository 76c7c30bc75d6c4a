"""Keyed state of the storage optimiser: per region, the latest forecast of each series and
the last published schedule (the SoC carries over from it to the next solve).

Stored in the runner's changelog as JSON holding the protobuf messages (base64), so a
restarted or rebalanced instance continues from the same SoC.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

from gridstream.bus.state import StateCodec
from gridstream.schemas.forecast_pb2 import Forecast
from gridstream.schemas.storage_pb2 import StorageSchedule
from gridstream.services.storage_optimizer.messages import StepTables


@dataclass
class RegionState:
    region: str
    forecasts: dict[str, Forecast] = field(default_factory=dict)
    schedule: StorageSchedule | None = None
    initial_soc_mwh: float = 0.0  # SoC the published schedule started from
    solved_issue_ms: int = -1  # issue time of the newest forecast set solved
    #: each forecast's steps as read for the last plan (memory only, never in the changelog)
    step_tables: StepTables = field(default_factory=dict, repr=False, compare=False)

    def complete(self, required: tuple[str, ...]) -> int | None:
        """The issue time up to which every required series has been forecast (the oldest
        of their latest forecasts), when it is newer than the last solve; None otherwise.

        Series of a region arrive interleaved (by partition), so waiting for all of them at
        exactly the same issue time would rarely happen in a fast replay; planning whenever
        the slowest series moves on gives one solve per issue time the region completes."""
        if not required or any(name not in self.forecasts for name in required):
            return None
        issue = min(self.forecasts[name].issue_time_ms for name in required)
        return issue if issue > self.solved_issue_ms else None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _to_bytes(state: RegionState) -> bytes:
    body = {
        "region": state.region,
        "forecasts": {k: _b64(f.SerializeToString()) for k, f in state.forecasts.items()},
        "schedule": None if state.schedule is None else _b64(state.schedule.SerializeToString()),
        "initial_soc_mwh": state.initial_soc_mwh,
        "solved_issue_ms": state.solved_issue_ms,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _from_bytes(raw: bytes) -> RegionState:
    body = json.loads(raw)
    forecasts = {}
    for name, text in body["forecasts"].items():
        forecast = Forecast()
        forecast.ParseFromString(base64.b64decode(text))
        forecasts[name] = forecast
    schedule = None
    if body.get("schedule"):
        schedule = StorageSchedule()
        schedule.ParseFromString(base64.b64decode(body["schedule"]))
    return RegionState(
        region=body["region"],
        forecasts=forecasts,
        schedule=schedule,
        initial_soc_mwh=float(body.get("initial_soc_mwh", 0.0)),
        solved_issue_ms=int(body.get("solved_issue_ms", -1)),
    )


REGION_STATE_CODEC: StateCodec[RegionState] = StateCodec(_to_bytes, _from_bytes)
