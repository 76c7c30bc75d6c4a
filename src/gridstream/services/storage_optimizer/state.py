"""Keyed state of the storage optimiser: per region, the event-time join of the forecasts.

The plan at origin ``t`` combines the required series' forecasts issued at exactly ``t``.
Per region the state holds the forecasts of the origins not planned yet (``pending``), the
newest issue time accepted per series (``watermarks``), per series the forecast of the newest
planned origin (``latest``: what a plan uses for a series missing at its origin) and the last
published schedule (the SoC carries over from it to the next origin).

A series' forecasts arrive in issue-time order, so a forecast that does not move its series'
watermark on is a duplicate or out of order and is ignored: what the join takes of a series
depends on that series' own sequence only, never on how the series interleave.

Stored in the runner's changelog as JSON holding the protobuf messages (base64), so a
restarted or rebalanced instance continues the same join from the same SoC.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

from gridstream.bus.state import StateCodec
from gridstream.schemas.forecast_pb2 import Forecast
from gridstream.schemas.storage_pb2 import StorageSchedule
from gridstream.services.storage_optimizer.messages import StepTables

#: why an origin was planned with a required series missing
BY_WATERMARK = "watermark"  # every missing series has a later forecast: it will never come
BY_GRACE = "grace"  # the newest watermark ran ``grace`` ahead of the origin
BY_WALL_CLOCK = "wall clock"  # live clock: the forecast input was idle


@dataclass(frozen=True)
class Decision:
    """One origin to plan now: the forecasts of it that came and the required ones that did
    not (``why`` says how the join knew to stop waiting; empty when none is missing)."""

    origin_ms: int
    present: dict[str, Forecast]
    missing: tuple[str, ...] = ()
    why: str = ""


@dataclass
class RegionState:
    region: str
    #: origin (issue time) -> series -> forecast, for the origins not planned yet
    pending: dict[int, dict[str, Forecast]] = field(default_factory=dict)
    #: series -> newest issue time accepted
    watermarks: dict[str, int] = field(default_factory=dict)
    #: series -> its forecast of the newest planned origin (or a later one that came too late)
    latest: dict[str, Forecast] = field(default_factory=dict)
    schedule: StorageSchedule | None = None
    initial_soc_mwh: float = 0.0  # SoC the published schedule started from
    solved_issue_ms: int = -1  # the newest origin planned
    #: each forecast's steps as read for the last plan (memory only, never in the changelog)
    step_tables: StepTables = field(default_factory=dict, repr=False, compare=False)

    def accept(self, name: str, forecast: Forecast) -> bool:
        """Take a forecast of series ``name`` into the join; False when it is ignored (not
        newer than the series' watermark: a duplicate or an out-of-order forecast)."""
        issue = int(forecast.issue_time_ms)
        if issue <= self.watermarks.get(name, -1):
            return False
        self.watermarks[name] = issue
        if issue > self.solved_issue_ms:
            self.pending.setdefault(issue, {})[name] = forecast
        else:  # its origin was planned without it (grace or wall clock): later plans use it
            self.latest[name] = forecast
        return True

    def oldest(self, required: tuple[str, ...]) -> Decision | None:
        """The oldest waiting origin as a decision taken by the wall clock (None: none)."""
        if not self.pending:
            return None
        origin = min(self.pending)
        present = self.pending[origin]
        missing = tuple(n for n in required if n not in present)
        return Decision(origin, present, missing, BY_WALL_CLOCK if missing else "")

    def next_decision(self, required: tuple[str, ...], grace_ms: int) -> Decision | None:
        """The oldest waiting origin when the data decides it, None while it must wait.

        It is decided when every required series of it is there; or when every required
        series' watermark reached it (a missing one will never come); or when the newest
        watermark is more than ``grace_ms`` past it (the missing ones are too late)."""
        if not self.pending or not required:
            return None
        origin = min(self.pending)
        present = self.pending[origin]
        missing = tuple(n for n in required if n not in present)
        if not missing:
            return Decision(origin, present)
        marks = [self.watermarks.get(n, -1) for n in required]
        if min(marks) >= origin:
            return Decision(origin, present, missing, BY_WATERMARK)
        if max(marks) - origin > grace_ms:
            return Decision(origin, present, missing, BY_GRACE)
        return None

    def take(self, decision: Decision) -> dict[str, Forecast]:
        """Remove the decided origin from the join: the forecasts to plan it on, per series
        the origin's own or, for a missing one, the latest before it (if any)."""
        present = self.pending.pop(decision.origin_ms, {})
        used = {n: self.latest[n] for n in decision.missing if n in self.latest}
        used.update(present)
        self.latest.update(present)
        self.solved_issue_ms = decision.origin_ms
        return used


def _b64(message: Forecast | StorageSchedule) -> str:
    return base64.b64encode(message.SerializeToString()).decode("ascii")


def _forecast(text: str) -> Forecast:
    forecast = Forecast()
    forecast.ParseFromString(base64.b64decode(text))
    return forecast


def _to_bytes(state: RegionState) -> bytes:
    body = {
        "region": state.region,
        "pending": {
            str(origin): {n: _b64(f) for n, f in sorted(by_series.items())}
            for origin, by_series in sorted(state.pending.items())
        },
        "watermarks": dict(sorted(state.watermarks.items())),
        "latest": {n: _b64(f) for n, f in sorted(state.latest.items())},
        "schedule": None if state.schedule is None else _b64(state.schedule),
        "initial_soc_mwh": state.initial_soc_mwh,
        "solved_issue_ms": state.solved_issue_ms,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _from_bytes(raw: bytes) -> RegionState:
    body = json.loads(raw)
    # a changelog written before the join held only the latest forecast per series
    latest = {n: _forecast(t) for n, t in body.get("latest", body.get("forecasts", {})).items()}
    watermarks = body.get("watermarks")
    if watermarks is None:
        watermarks = {n: f.issue_time_ms for n, f in latest.items()}
    pending = {
        int(origin): {n: _forecast(t) for n, t in by_series.items()}
        for origin, by_series in body.get("pending", {}).items()
    }
    schedule = None
    if body.get("schedule"):
        schedule = StorageSchedule()
        schedule.ParseFromString(base64.b64decode(body["schedule"]))
    return RegionState(
        region=body["region"],
        pending=pending,
        watermarks={n: int(v) for n, v in watermarks.items()},
        latest=latest,
        schedule=schedule,
        initial_soc_mwh=float(body.get("initial_soc_mwh", 0.0)),
        solved_issue_ms=int(body.get("solved_issue_ms", -1)),
    )


REGION_STATE_CODEC: StateCodec[RegionState] = StateCodec(_to_bytes, _from_bytes)
