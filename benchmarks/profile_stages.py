"""CPU of the per-reading stages in process: (ml-)preprocessor, forecaster, detector, alerts.

Run: PYTHONPATH=src .venv/bin/python benchmarks/profile_stages.py [--data DIR] [--year 2022]
     [--days 30] [--batch 500] [--profile smart-ml-forecaster]

Recorded EirGrid rows of ``[1 Jan year, + days)`` go through the five services' processors as
their runners drive them, without a broker: each record is encoded and decoded by the bus
serde, partitioned like librdkafka's default partitioner (CRC32 of the key, 3 partitions as
``gridstream bench``), processed in batches of ``--batch`` records per stage (a stage drains
its input after each upstream batch), punctuated after every batch when the processor asks
for it, and its dirty state encoded by its codec as the runner writes the changelog.

Two things are pinned so that a run depends on the data alone: the ml-preprocessor's wall
clock (the arrival time it keeps for a head waiting for its peers) is a constant, and the
forecaster has no registry models (seasonal-naive, as ``gridstream bench`` before the trainer
promotes one). The alert engine reads the detector's verdicts and the preprocessor's system
events with its default settings on the event clock, the rules file not watched. Prints one
JSON line: per service the CPU seconds, records in and out and the SHA-256 of its output
records (topic, key, value bytes, in order) and of its changelog entries; ``--profile``
writes a cProfile of one service to ``/tmp/profile_<service>.prof``.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import tempfile
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridstream.bench.data import DEFAULT_DATA, select_span
from gridstream.bus.consumed import with_correlation
from gridstream.bus.correlation import correlation_from
from gridstream.bus.processor import InRecord, Processor
from gridstream.bus.serde import decode, encode
from gridstream.bus.state import StateView
from gridstream.config import Settings
from gridstream.core.alerts.merge import HOUR_MS
from gridstream.errors import SerdeError, ValidationError
from gridstream.services.alert_engine.receivers import ReceiverHub
from gridstream.services.alert_engine.rules import RulesHolder
from gridstream.services.alert_engine.service import AlertEngineProcessor, AlertSettings
from gridstream.services.anomaly_detector.service import AnomalyDetectorProcessor
from gridstream.services.forecaster.service import ForecasterProcessor, ForecasterSettings
from gridstream.services.ml_preprocessor import service as ml_service
from gridstream.services.preprocessor.service import Preprocessor
from gridstream.sources.replay import iter_recorded

PARTITIONS = 3
Wire = tuple[str, int, str, bytes, list[tuple[str, bytes]]]  # topic, partition, key, value, hdrs


def partition_of(key: str) -> int:
    """librdkafka's default ``consistent_random`` partitioner for a non-empty key."""
    return zlib.crc32(key.encode()) % PARTITIONS


@dataclass
class Stage:
    """One service: its processor, input queue, state per partition and what it cost."""

    name: str
    processor: Processor[Any]
    queue: deque[Wire] = field(default_factory=deque)
    states: dict[int, StateView[Any]] = field(default_factory=dict)
    cpu_s: float = 0.0
    records_in: int = 0
    records_out: int = 0
    dead_letters: int = 0
    out_digest: Any = field(default_factory=hashlib.sha256)
    state_digest: Any = field(default_factory=hashlib.sha256)
    offset: int = 0

    def state(self, part: int) -> StateView[Any]:
        view = self.states.get(part)
        if view is None:
            view = self.states[part] = StateView(part)
        return view

    def batch(self, size: int) -> list[Wire]:
        """The processing of up to ``size`` queued records, as one runner batch."""
        records = [self.queue.popleft() for _ in range(min(size, len(self.queue)))]
        inputs = self.processor.inputs()
        produced: list[Wire] = []
        for topic, part, key, raw, headers in records:
            self.offset += 1
            try:
                value = decode(raw, headers, inputs[topic])
                cid = correlation_from(headers, value, f"{topic}/{part}/{self.offset}")
                record = InRecord(topic, part, self.offset, key, value, 0, cid)
                outs = [
                    with_correlation(o, cid)
                    for o in self.processor.process(record, self.state(part))
                ]
            except (SerdeError, ValidationError) as exc:
                self.dead_letters += 1
                self.out_digest.update(f"dead:{topic}:{key}:{exc}".encode())
                continue
            produced += [_wire(o.topic, o.key, o.value, o.headers) for o in outs]
        if self.processor.punctuate_interval_s is not None:
            outs = list(self.processor.punctuate(0, self.states))
            produced += [_wire(o.topic, o.key, o.value, o.headers) for o in outs]
        codec = self.processor.state_codec
        if codec is not None:
            for part in sorted(self.states):
                for key, value in self.states[part].take_dirty():
                    data = b"" if value is None else codec.to_bytes(value)
                    self.state_digest.update(b"%d|%s|%d|" % (part, key.encode(), len(data)))
                    self.state_digest.update(data)
        self.records_in += len(records)
        self.records_out += len(produced)
        for topic, _, key, raw, _ in produced:
            self.out_digest.update(b"%s|%s|%d|" % (topic.encode(), key.encode(), len(raw)))
            self.out_digest.update(raw)
        return produced


def _wire(topic: str, key: str, value: Any, extra: tuple[tuple[str, bytes], ...]) -> Wire:
    raw, headers = encode(value)
    return topic, partition_of(key), key, raw, [*headers, *extra]


@dataclass
class Pipeline:
    stages: list[Stage]
    routes: dict[str, list[Stage]]  # topic -> stages consuming it
    size: int
    profiled: str = ""
    profiler: cProfile.Profile = field(default_factory=cProfile.Profile)

    def run_stage(self, stage: Stage) -> None:
        while stage.queue:
            profiling = stage.name == self.profiled
            if profiling:
                self.profiler.enable()
            started = time.process_time()
            produced = stage.batch(self.size)
            stage.cpu_s += time.process_time() - started
            if profiling:
                self.profiler.disable()
            for wire in produced:
                for target in self.routes.get(wire[0], ()):
                    target.queue.append(wire)

    def feed(self, raws: Iterator[Wire]) -> None:
        first = self.stages[0]
        while True:
            for _ in range(self.size):
                wire = next(raws, None)
                if wire is None:
                    break
                first.queue.append(wire)
            if not first.queue:
                return
            for stage in self.stages:
                self.run_stage(stage)


def build(settings: Settings, size: int, profiled: str) -> Pipeline:
    topics = settings.topics
    forecast_fields = ForecasterSettings().field_set()
    pre = Stage("smart-preprocessor", Preprocessor(settings))
    ml = Stage("smart-ml-preprocessor", ml_service.MlPreprocessor(settings))
    fc = Stage("smart-ml-forecaster", ForecasterProcessor(settings))
    det = Stage(
        "smart-anomaly-detector",
        AnomalyDetectorProcessor(topics, forecast_fields=forecast_fields),
    )
    alerts = Stage("smart-alert-engine", alert_engine(settings))
    routes = {
        topics.raw: [pre],
        topics.preprocessed: [ml],
        ml_service.repartition_topic(settings): [ml],
        topics.ml_ready: [fc, det],
        topics.forecasts: [det],
        topics.anomalies: [alerts],
        topics.system_events: [alerts],
    }
    return Pipeline([pre, ml, fc, det, alerts], routes, size, profiled)


def alert_engine(settings: Settings) -> AlertEngineProcessor:
    """The alert engine as its service builds it on the event clock, without receivers."""
    config = AlertSettings()
    if config.consume_readings:
        raise SystemExit("GRIDSTREAM_ALERTS_CONSUME_READINGS: not wired here, unset it")
    return AlertEngineProcessor(
        settings.topics,
        RulesHolder(config.rules_file),
        ReceiverHub([]),
        consume_readings=False,
        watch_rules=False,
        clock="event",
        startup_hold_ms=int(config.startup_hold_hours * HOUR_MS),
    )


def raw_wires(settings: Settings, data: Path, year: int, days: float) -> Iterator[Wire]:
    span = select_span(data, ("ALL", "ROI", "NI"), year, days)
    for reading in iter_recorded(span.files):
        if reading.ts_ms < span.start_ms:
            continue
        if reading.ts_ms >= span.end_ms:
            return
        yield _wire(settings.topics.raw, reading.series_id, reading, ())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="smartgriddashboard folder")
    parser.add_argument("--year", type=int, default=2022)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--profile", default="", help="service name to cProfile")
    args = parser.parse_args()
    frozen: Callable[[], int] = lambda: 0  # noqa: E731 - the arrival clock, pinned
    ml_service._wall_ms = frozen  # type: ignore[assignment]
    with tempfile.TemporaryDirectory(prefix="profile-stages-") as tmp:
        settings = Settings(state_dir=Path(tmp))
        pipeline = build(settings, args.batch, args.profile)
        started = time.perf_counter()
        pipeline.feed(raw_wires(settings, args.data, args.year, args.days))
        wall = time.perf_counter() - started
    if args.profile:
        pipeline.profiler.dump_stats(f"/tmp/profile_{args.profile}.prof")
    report = {
        "year": args.year,
        "days": args.days,
        "batch": args.batch,
        "wall_s": round(wall, 2),
        "services": {
            s.name: {
                "cpu_s": round(s.cpu_s, 3),
                "in": s.records_in,
                "out": s.records_out,
                "dead_letters": s.dead_letters,
                "out_sha256": s.out_digest.hexdigest(),
                "state_sha256": s.state_digest.hexdigest(),
            }
            for s in pipeline.stages
        },
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
