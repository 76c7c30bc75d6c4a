"""Latency phase: readings produced at a live-like rate, their outputs timed as they appear.

Each reading (the recorded rows right after the throughput span) is produced at a fixed rate
and its wall-clock production time remembered under its series and data time. A
``read_committed`` tail of the output topics links every output back to the reading that
caused it: clean readings and anomalies by series and time, forecasts by series and issue
time, rebalancing actions through the record ids in their evidence (the latest reading they
cite). Forecasts and anomalies come from feature vectors, and a vector waits for its
region's demand and wind readings of the same slot (cross-series features): their clock
starts at the last of those three readings. Latency = when the output became visible to a
consumer - when the (last) reading it needed was produced.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from google.protobuf.message import Message

from gridstream.bus.producer import MessageProducer
from gridstream.bus.settings import KafkaSettings
from gridstream.bus.tail import TopicTail
from gridstream.bus.topics import TopicNames
from gridstream.schemas import anomaly_pb2, forecast_pb2, readings_pb2, rebalance_pb2
from gridstream.services.ml_preprocessor.stream import PEERS
from gridstream.sources.records import make_raw_reading, series_id, split_record_id
from gridstream.sources.replay import Row

#: output stage name -> logical topic
OUTPUTS: dict[str, str] = {
    "clean": "preprocessed",
    "forecast": "forecasts",
    "anomaly": "anomalies",
    "action": "rebalance",
}
TYPES: dict[str, type[Message]] = {
    "clean": readings_pb2.CleanReading,
    "forecast": forecast_pb2.Forecast,
    "anomaly": anomaly_pb2.Anomaly,
    "action": rebalance_pb2.RebalanceAction,
}


@dataclass
class LatencyResult:
    readings: int
    seconds: float
    samples_ms: dict[str, list[float]] = field(default_factory=dict)

    def percentile(self, stage: str, q: float) -> float | None:
        return nearest_rank(self.samples_ms.get(stage, []), q)


def nearest_rank(samples: list[float], q: float) -> float | None:
    """The ``q``-th percentile of ``samples`` by nearest rank (None when there are none)."""
    values = sorted(samples)
    if not values:
        return None
    rank = min(len(values) - 1, max(0, round(q / 100.0 * len(values) + 0.5) - 1))
    return round(values[rank], 1)


def live_reading(row: Row) -> readings_pb2.RawReading:
    """A recorded row as the reading the ingestor would produce now (replay source)."""
    ts, region, fld, value, text = row
    return make_raw_reading(
        region=region,
        field=fld,
        ts_ms=ts,
        value=value,
        effective_time=text,
        source="replay",
        ingested_at_ms=int(time.time() * 1000),
    )


def _with_peers(sid: str, ts_ms: int) -> list[tuple[str, int]]:
    """A feature vector's readings: its own and its region's peers (demand, wind) at that
    slot, which the ml-preprocessor waits for (cross-series features need all three)."""
    region = sid.split("/", 1)[0]
    return [(sid, ts_ms), *((series_id(region, peer), ts_ms) for peer in PEERS)]


def _cited(message: Message, stage: str) -> list[tuple[str, int]]:
    """(series, data time) of the readings an output waited for."""
    if isinstance(message, readings_pb2.CleanReading):
        return [(message.series_id, message.ts_ms)]
    if isinstance(message, anomaly_pb2.Anomaly):
        return _with_peers(message.series_id, message.ts_ms)
    if isinstance(message, forecast_pb2.Forecast):
        return _with_peers(message.series_id, message.issue_time_ms)
    if isinstance(message, rebalance_pb2.RebalanceAction):
        out = []
        for rid in message.evidence:
            try:
                out.append(split_record_id(rid))
            except ValueError:
                continue
        return out
    return []


class _Collector:
    def __init__(self, tail: TopicTail, stage_of: dict[str, str]) -> None:
        self.tail = tail
        self.stage_of = stage_of
        self.seen: list[tuple[str, Message, float]] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="bench-collector", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            # max 1 record: consume() returns at the first record instead of waiting out the
            # timeout for a full batch; then drain what is already there without waiting
            records = self.tail.poll(1, 0.2)
            if records:
                records += self.tail.poll(1000, 0.0)
            now = time.time()
            for rec in records:
                self.seen.append((self.stage_of[rec.topic], rec.value, now))

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(10)


def run_latency(
    kafka: KafkaSettings,
    names: TopicNames,
    rows: list[Row],
    rate_per_s: float,
    settle_s: float = 3.0,
    progress: Callable[[str], None] = lambda _: None,
) -> LatencyResult:
    topics = names.all()
    stage_of = {topics[logical]: stage for stage, logical in OUTPUTS.items()}
    tail = TopicTail(kafka, {topics[lg]: TYPES[st] for st, lg in OUTPUTS.items()}, backlog=0)
    tail.refresh_assignment()
    collector = _Collector(tail, stage_of)
    collector.thread.start()
    producer = MessageProducer(kafka, linger_ms=0)
    produced: dict[tuple[str, int], float] = {}
    started = time.monotonic()
    try:
        for i, row in enumerate(rows):
            due = started + i / rate_per_s
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            reading = live_reading(row)
            key = (reading.series_id, reading.ts_ms)
            produced.setdefault(key, time.time())
            producer.send(names.raw, key[0], reading)
            if i % 500 == 0:
                progress(f"{i:,}/{len(rows):,} live readings")
        producer.flush()
        seconds = time.monotonic() - started
        time.sleep(settle_s)
    finally:
        collector.stop()
        tail.close()
    result = LatencyResult(len(rows), seconds, {stage: [] for stage in OUTPUTS})
    for stage, message, seen_at in collector.seen:
        times = [produced[c] for c in _cited(message, stage) if c in produced]
        if times:
            result.samples_ms[stage].append((seen_at - max(times)) * 1000.0)
    return result
