"""Keyed state of the storage optimiser: per region, the event-time join of the forecasts.

The plan at origin ``t`` combines the required series' forecasts issued at exactly ``t``.
Per region the head entry (key: the region) holds which series came for each origin not
planned yet (``waiting``), the newest issue time accepted per series (``watermarks``), per
series the forecast of the newest planned origin (``latest``: what a plan uses for a series
missing at its origin) and the last published schedule (the SoC carries over from it to the
next origin). The forecasts of a waiting origin are an entry of their own (key
``{region}@{origin}``), deleted when the origin is planned.

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
from typing import Any

from gridstream.bus.state import StateCodec, StateView
from gridstream.schemas.forecast_pb2 import Forecast
from gridstream.schemas.storage_pb2 import StorageSchedule
from gridstream.services.storage_optimizer.messages import StepTables

#: why an origin was planned with a required series missing
BY_WATERMARK = "watermark"  # every missing series has a later forecast: it will never come
BY_GRACE = "grace"  # the newest watermark ran ``grace`` ahead of the origin
BY_WALL_CLOCK = "wall clock"  # live clock: the forecast input was idle


@dataclass(frozen=True)
class Decision:
    """One origin to plan now: the required series of it that came and those that did not
    (``why`` says how the join knew to stop waiting; empty when none is missing)."""

    origin_ms: int
    present: tuple[str, ...]
    missing: tuple[str, ...] = ()
    why: str = ""


@dataclass
class RegionState:
    """The head of a region's join (key: the region)."""

    region: str
    #: origin (issue time) -> the series whose forecast of it came, for the origins waiting
    waiting: dict[int, list[str]] = field(default_factory=dict)
    #: series -> newest issue time accepted
    watermarks: dict[str, int] = field(default_factory=dict)
    #: series -> its forecast of the newest planned origin (or a later one that came too late)
    latest: dict[str, Forecast] = field(default_factory=dict)
    schedule: StorageSchedule | None = None
    initial_soc_mwh: float = 0.0  # SoC the published schedule started from
    solved_issue_ms: int = -1  # the newest origin planned
    #: each forecast's steps as read for the last plan (memory only, never in the changelog)
    step_tables: StepTables = field(default_factory=dict, repr=False, compare=False)


@dataclass
class OriginForecasts:
    """The forecasts that came for one waiting origin (key: :func:`origin_key`). Kept apart
    from the head so that a changelog entry stays small (a few forecasts) however many
    origins wait, and a record rewrites only its own origin's entry."""

    region: str
    origin_ms: int
    forecasts: dict[str, Forecast] = field(default_factory=dict)


JoinEntry = RegionState | OriginForecasts


def origin_key(region: str, origin_ms: int) -> str:
    return f"{region}@{origin_ms}"


class RegionJoin:
    """The join of one region over its entries in a partition's state."""

    def __init__(self, view: StateView[JoinEntry], region: str) -> None:
        self.view = view
        head = view.get(region)
        self.head = head if isinstance(head, RegionState) else RegionState(region)

    @property
    def region(self) -> str:
        return self.head.region

    def save(self) -> None:
        self.view.put(self.head.region, self.head)

    def accept(self, name: str, forecast: Forecast) -> bool:
        """Take a forecast of series ``name`` into the join; False when it is ignored (not
        newer than the series' watermark: a duplicate or an out-of-order forecast)."""
        head = self.head
        issue = int(forecast.issue_time_ms)
        if issue <= head.watermarks.get(name, -1):
            return False
        head.watermarks[name] = issue
        if issue > head.solved_issue_ms:
            key = origin_key(head.region, issue)
            bucket = self.view.get(key)
            if not isinstance(bucket, OriginForecasts):
                bucket = OriginForecasts(head.region, issue)
            bucket.forecasts[name] = forecast
            self.view.put(key, bucket)
            head.waiting[issue] = sorted({*head.waiting.get(issue, ()), name})
        else:  # its origin was planned without it (grace or wall clock): later plans use it
            head.latest[name] = forecast
        return True

    def oldest(self, required: tuple[str, ...]) -> Decision | None:
        """The oldest waiting origin as a decision taken by the wall clock (None: none)."""
        if not self.head.waiting:
            return None
        origin = min(self.head.waiting)
        present = tuple(self.head.waiting[origin])
        missing = tuple(n for n in required if n not in present)
        return Decision(origin, present, missing, BY_WALL_CLOCK if missing else "")

    def next_decision(self, required: tuple[str, ...], grace_ms: int) -> Decision | None:
        """The oldest waiting origin when the data decides it, None while it must wait.

        It is decided when every required series of it is there; or when every required
        series' watermark reached it (a missing one will never come); or when the newest
        watermark is more than ``grace_ms`` past it (the missing ones are too late)."""
        head = self.head
        if not head.waiting or not required:
            return None
        origin = min(head.waiting)
        present = tuple(head.waiting[origin])
        missing = tuple(n for n in required if n not in present)
        if not missing:
            return Decision(origin, present)
        marks = [head.watermarks.get(n, -1) for n in required]
        if min(marks) >= origin:
            return Decision(origin, present, missing, BY_WATERMARK)
        if max(marks) - origin > grace_ms:
            return Decision(origin, present, missing, BY_GRACE)
        return None

    def take(self, decision: Decision) -> dict[str, Forecast]:
        """Remove the decided origin from the join: the forecasts to plan it on, per series
        the origin's own or, for a missing one, the latest before it (if any)."""
        head = self.head
        key = origin_key(head.region, decision.origin_ms)
        bucket = self.view.get(key)
        present = bucket.forecasts if isinstance(bucket, OriginForecasts) else {}
        self.view.delete(key)
        head.waiting.pop(decision.origin_ms, None)
        used = {n: head.latest[n] for n in decision.missing if n in head.latest}
        used.update(present)
        head.latest.update(present)
        head.solved_issue_ms = decision.origin_ms
        return used

    def pending(self) -> dict[int, dict[str, Forecast]]:
        """The waiting origins' forecasts (for tests and inspection)."""
        out: dict[int, dict[str, Forecast]] = {}
        for origin in sorted(self.head.waiting):
            bucket = self.view.get(origin_key(self.head.region, origin))
            out[origin] = dict(bucket.forecasts) if isinstance(bucket, OriginForecasts) else {}
        return out


def _b64(message: Forecast | StorageSchedule) -> str:
    return base64.b64encode(message.SerializeToString()).decode("ascii")


def _forecast(text: str) -> Forecast:
    forecast = Forecast()
    forecast.ParseFromString(base64.b64decode(text))
    return forecast


def _head_to_json(state: RegionState) -> dict[str, Any]:
    return {
        "region": state.region,
        "waiting": {str(origin): names for origin, names in sorted(state.waiting.items())},
        "watermarks": dict(sorted(state.watermarks.items())),
        "latest": {n: _b64(f) for n, f in sorted(state.latest.items())},
        "schedule": None if state.schedule is None else _b64(state.schedule),
        "initial_soc_mwh": state.initial_soc_mwh,
        "solved_issue_ms": state.solved_issue_ms,
    }


def _to_bytes(entry: JoinEntry) -> bytes:
    if isinstance(entry, OriginForecasts):
        body: dict[str, Any] = {
            "kind": "origin",
            "region": entry.region,
            "origin_ms": entry.origin_ms,
            "forecasts": {n: _b64(f) for n, f in sorted(entry.forecasts.items())},
        }
    else:
        body = _head_to_json(entry)
    return json.dumps(body, separators=(",", ":")).encode()


def _head_from_json(body: dict[str, Any]) -> RegionState:
    # a changelog written before the join held only the latest forecast per series
    latest = {n: _forecast(t) for n, t in body.get("latest", body.get("forecasts", {})).items()}
    watermarks = body.get("watermarks")
    if watermarks is None:
        watermarks = {n: f.issue_time_ms for n, f in latest.items()}
    schedule = None
    if body.get("schedule"):
        schedule = StorageSchedule()
        schedule.ParseFromString(base64.b64decode(body["schedule"]))
    return RegionState(
        region=body["region"],
        waiting={int(o): list(names) for o, names in body.get("waiting", {}).items()},
        watermarks={n: int(v) for n, v in watermarks.items()},
        latest=latest,
        schedule=schedule,
        initial_soc_mwh=float(body.get("initial_soc_mwh", 0.0)),
        solved_issue_ms=int(body.get("solved_issue_ms", -1)),
    )


def _from_bytes(raw: bytes) -> JoinEntry:
    body = json.loads(raw)
    if body.get("kind") == "origin":
        return OriginForecasts(
            region=body["region"],
            origin_ms=int(body["origin_ms"]),
            forecasts={n: _forecast(t) for n, t in body["forecasts"].items()},
        )
    return _head_from_json(body)


REGION_STATE_CODEC: StateCodec[JoinEntry] = StateCodec(_to_bytes, _from_bytes)
