"""CPU of the storage optimiser's processing code over a recorded span, with no broker.

Run: PYTHONPATH=src .venv/bin/python benchmarks/profile_storage.py --start 2022-01-01
     --days 30 [--regions ALL] [--batch 200] [--profile /tmp/storage.prof]

Forecasts are made from the recorded EirGrid files of the span the way the forecaster makes
them before it has a model (``seasonal_naive_forecast`` and its ``to_message``, on the
profile features read off the 15-minute grid: same quarter-hour last week / yesterday, the
recent standard deviation), one per series and quarter-hour where the series has a reading,
so gaps in the data (e.g. 2018's missing CO2) reach the join as missing forecasts. They are
encoded as the forecaster publishes them (not timed). The timed part is what the service's
runner does with them: decode each ``forecast_output`` record, ``process`` it (the
repartition to the by-region topic), encode that, decode it as a by-region record, ``process``
it (the join and the solves), encode every output, and at the end of every ``--batch``
records write the changed state entries with the service's codec.

Prints one JSON line: CPU seconds of the timed part, schedules published, CPU ms per
schedule, and SHA-256 digests of every output record (topic, key, bytes, in order) and of
the changelog entries (key and bytes, in order), with the schedules' ``solve_ms`` (the
solver's wall time) cleared, as ``gridstream verify`` does.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from gridstream.bench.data import DEFAULT_DATA
from gridstream.bus.processor import InRecord, OutRecord
from gridstream.bus.serde import decode, encode
from gridstream.bus.state import StateView
from gridstream.bus.topics import TopicNames
from gridstream.core.features import SLOT_MS
from gridstream.core.forecasting import seasonal_naive_forecast
from gridstream.core.storage import load_fleet_config, preset
from gridstream.schemas.forecast_pb2 import Forecast
from gridstream.schemas.storage_pb2 import StorageSchedule
from gridstream.services.forecaster.batch import Issue, to_message
from gridstream.services.storage_optimizer.api import ScheduleBoard
from gridstream.services.storage_optimizer.messages import FIELD_SERIES
from gridstream.services.storage_optimizer.service import (
    StorageOptimizerProcessor,
    repartition_topic,
)
from gridstream.services.storage_optimizer.state import JoinEntry
from gridstream.sources.recorded import list_files, read_frame

DAY_SLOTS = 96
WEEK_SLOTS = 7 * DAY_SLOTS
FIELDS = tuple(f for f in FIELD_SERIES if f != "PRICE")  # EirGrid publishes no price


@dataclass(frozen=True)
class Span:
    start_ms: int
    end_ms: int
    regions: tuple[str, ...]


def grid(
    data: Path, span: Span, fields: tuple[str, ...] = FIELDS
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Each series' readings on the 15-minute grid from a week before the span (NaN: none)."""
    first = span.start_ms - WEEK_SLOTS * SLOT_MS
    years = range(
        datetime.fromtimestamp(first / 1000, UTC).year,
        datetime.fromtimestamp(span.end_ms / 1000, UTC).year + 1,
    )
    frame = read_frame(list_files(data, regions=list(span.regions), years=years))
    frame = frame[frame["field"].isin(fields)]
    ts = frame["ts"].dt.as_unit("ms").astype("int64").to_numpy()
    slot = (ts - first) // SLOT_MS
    slots = (span.end_ms - first) // SLOT_MS
    keep = (ts % SLOT_MS == 0) & (slot >= 0) & (slot < slots)
    times = first + SLOT_MS * np.arange(slots, dtype=np.int64)
    grids: dict[str, np.ndarray] = {}
    sub = frame[keep].assign(slot=slot[keep])
    for (region, field), rows in sub.groupby(["region", "field"]):
        values = np.full(slots, np.nan)
        values[rows["slot"].to_numpy()] = rows["value"].to_numpy(dtype=np.float64)
        grids[f"{region}/{field}"] = values
    return times, grids


def _features(values: np.ndarray, at: int) -> dict[str, float]:
    """The profile features the seasonal-naive forecast reads, for the slot ``at``."""
    out: dict[str, float] = {"value": float(values[at])}
    recent = values[max(0, at - DAY_SLOTS + 1) : at + 1]
    if np.isfinite(recent).sum() > 1:
        out["roll_std_96"] = float(np.nanstd(recent, ddof=1))
    for h in range(1, DAY_SLOTS + 1):
        day, week = values[at + h - DAY_SLOTS], values[at + h - WEEK_SLOTS]
        if np.isfinite(day):
            out[f"prof_d1_{h}"] = float(day)
        if np.isfinite(week):
            out[f"prof_w1_{h}"] = float(week)
    return out


def forecasts(data: Path, span: Span) -> Iterator[Forecast]:
    """The forecaster's seasonal-naive forecasts of the span, in issue-time order."""
    return forecasts_of(*grid(data, span))


def forecasts_of(times: np.ndarray, grids: dict[str, np.ndarray]) -> Iterator[Forecast]:
    """The seasonal-naive forecasts of the readings of :func:`grid`, in issue-time order."""
    for at in range(WEEK_SLOTS, len(times)):
        issue = int(times[at])
        for series_id, values in sorted(grids.items()):
            if not np.isfinite(values[at]):
                continue  # no reading, no feature vector: the forecaster issues nothing
            region, _, field = series_id.partition("/")
            trajectory = seasonal_naive_forecast(_features(values, at), issue)
            yield to_message(Issue(series_id, region, field, issue, np.empty(0), None), trajectory)


class Digest:
    """SHA-256 over records in order: topic, key and value bytes, each length-prefixed."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.count = 0

    def add(self, *parts: bytes) -> None:
        for part in parts:
            self.sha.update(len(part).to_bytes(8, "little") + part)
        self.count += 1

    def hex(self) -> str:
        return self.sha.hexdigest()


def comparable(value: Any) -> bytes:
    """The record's bytes with the solver's wall time cleared (verify's normalisation)."""
    if isinstance(value, StorageSchedule) and value.solve_ms:
        value = StorageSchedule.FromString(value.SerializeToString())
        value.solve_ms = 0.0
    data, _ = encode(value)
    return data


def comparable_entry(raw: bytes) -> bytes:
    """A changelog entry's bytes with the solver's wall time cleared in the schedule it holds."""
    body = json.loads(raw)
    if body.get("schedule"):
        schedule = StorageSchedule.FromString(base64.b64decode(body["schedule"]))
        body["schedule"] = base64.b64encode(comparable(schedule)).decode("ascii")
    return json.dumps(body, separators=(",", ":")).encode()


class Stages:
    """The optimiser's processor with the default fleets, one partition's state, and records
    decoded the way its runner decodes them."""

    def __init__(self, objective: str, robustness: float) -> None:
        self.topics = TopicNames()
        fleets = load_fleet_config(None)
        self.processor = StorageOptimizerProcessor(
            self.topics,
            repartition_topic(self.topics),
            fleets,
            preset(objective, robustness),
            ScheduleBoard(sorted(fleets.fleets)),
        )
        self.view: StateView[JoinEntry] = StateView(0)
        self.headers = list(encode(Forecast())[1])
        self.offset = 0

    def handle(self, topic: str, raw: bytes) -> list[OutRecord]:
        """Decode one Forecast record of ``topic`` and ``process`` it."""
        value = decode(raw, self.headers, Forecast)
        record = InRecord(topic, 0, self.offset, value.series_id, value, value.issue_time_ms)
        self.offset += 1
        return list(self.processor.process(record, self.view))


def run(inputs: list[bytes], args: argparse.Namespace) -> dict[str, Any]:
    stages = Stages(args.objective, args.robustness)
    topics, view, handle = stages.topics, stages.view, stages.handle
    codec = stages.processor.state_codec
    assert codec is not None
    outputs, changelog = Digest(), Digest()
    schedules = 0
    cpu = time.process_time()
    wall = time.perf_counter()

    for n, raw in enumerate(inputs, 1):
        for out in handle(topics.forecasts, raw):
            data, _ = encode(out.value)
            outputs.add(out.topic.encode(), out.key.encode(), data)
            for regional in handle(out.topic, data):
                schedules += isinstance(regional.value, StorageSchedule)
                outputs.add(
                    regional.topic.encode(), regional.key.encode(), comparable(regional.value)
                )
        if n % args.batch == 0 or n == len(inputs):
            for key, entry in view.take_dirty():
                changelog.add(
                    key.encode(), b"" if entry is None else comparable_entry(codec.to_bytes(entry))
                )
    cpu = time.process_time() - cpu
    return summary(len(inputs), schedules, cpu, time.perf_counter() - wall, outputs, changelog)


def summary(
    inputs: int, schedules: int, cpu: float, wall: float, outputs: Digest, changelog: Digest
) -> dict[str, Any]:
    """The report's counts, times and digests (both profiling harnesses print these)."""
    return {
        "inputs": inputs,
        "schedules": schedules,
        "cpu_s": round(cpu, 3),
        "wall_s": round(wall, 3),
        "cpu_ms_per_schedule": round(1000 * cpu / max(schedules, 1), 3),
        "outputs": outputs.count,
        "outputs_sha256": outputs.hex(),
        "changelog_entries": changelog.count,
        "changelog_sha256": changelog.hex(),
    }


def parse_args(description: str) -> tuple[argparse.Namespace, Span]:
    """The command line both profiling harnesses share, and the span it names."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--start", default="2022-01-01", help="first day (UTC), YYYY-MM-DD")
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--regions", default="ALL")
    parser.add_argument("--objective", default="mixed")
    parser.add_argument("--robustness", type=float, default=0.5)
    parser.add_argument("--batch", type=int, default=200, help="records per state flush")
    parser.add_argument("--profile", type=Path, help="write cProfile stats of the timed part")
    args = parser.parse_args()
    start = datetime.fromisoformat(args.start).replace(tzinfo=UTC)
    end = start + timedelta(days=args.days)
    span = Span(
        int(start.timestamp() * 1000), int(end.timestamp() * 1000), tuple(args.regions.split(","))
    )
    return args, span


def report(
    args: argparse.Namespace,
    timed: Callable[[Any, argparse.Namespace], dict[str, Any]],
    inputs: Any,
) -> None:
    """Run ``timed`` (under cProfile with ``--profile``) and print its JSON line."""
    if args.profile:
        profiler = cProfile.Profile()
        result = profiler.runcall(timed, inputs, args)
        profiler.dump_stats(str(args.profile))
    else:
        result = timed(inputs, args)
    result = {"start": args.start, "days": args.days, "regions": args.regions, **result}
    print(json.dumps(result))


def main() -> None:
    args, span = parse_args(__doc__.splitlines()[0])
    report(args, run, [encode(f)[0] for f in forecasts(args.data, span)])


if __name__ == "__main__":
    main()
