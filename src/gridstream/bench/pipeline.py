"""Throughput phase: a span of recorded data replayed as fast as possible through the stages.

The ingestor replays the files (``gridstream ingest replay --max``) while every stage runs in
its own process in exactly-once mode. The run ends when every stage's consumer group has
committed the end of every input partition (only the last transaction's commit marker
left), checked upstream first so each check sees everything the stages before it committed.
Readings/s is counted from the first raw record's timestamp to that moment.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gridstream.bench.data import Span
from gridstream.bench.processes import Child, ChildSet
from gridstream.bench.stages import INGESTOR, Stage, input_topics
from gridstream.bus.admin import Admin
from gridstream.bus.reader import count_committed
from gridstream.bus.settings import KafkaSettings
from gridstream.bus.throughput import GroupWatch, first_timestamp_ms
from gridstream.bus.topics import TopicNames
from gridstream.errors import BrokerError
from gridstream.services.base import consumer_group

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineResult:
    raw_readings: int
    seconds: float
    ingest_seconds: float
    counts: dict[str, int]  # topic -> committed records

    @property
    def readings_per_s(self) -> float:
        return self.raw_readings / self.seconds if self.seconds > 0 else 0.0


def _ingest_summary(child: Child) -> dict[str, object]:
    for line in reversed(child.log_path.read_text(errors="replace").splitlines()):
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict):
                return data
    return {}


def _caught_up(watch: GroupWatch, group: str, inputs: list[str], topics: list[str]) -> bool:
    extra = [t for t in topics if t not in inputs]
    lag = watch.lag(group, inputs, extra)
    return all(v <= 1 for v in lag.values())


def count_topics(kafka: KafkaSettings, topics: list[str]) -> dict[str, int]:
    return {topic: count_committed(kafka, topic) for topic in topics}


def run_pipeline(
    kafka: KafkaSettings,
    names: TopicNames,
    children: ChildSet,
    span: Span,
    stages: list[Stage],
    group_prefix: str,
    topic_prefix: str,
    progress: Callable[[str], None] = lambda _: None,
    timeout_s: float = 3600.0,
) -> PipelineResult:
    with tempfile.TemporaryDirectory(prefix="gridstream-bench-data-") as tmp:
        for path in span.files:
            (Path(tmp) / path.name).symlink_to(path.resolve())
        ingestor = children.start_command(
            INGESTOR,
            [
                "ingest",
                "replay",
                tmp,
                "--max",
                "--from",
                span.start.strftime("%Y-%m-%dT%H:%M:%S"),
                "--to",
                span.end.strftime("%Y-%m-%dT%H:%M:%S"),
                "--regions",
                ",".join(span.regions),
                "--json",
            ],
        )
        watch = GroupWatch(kafka)
        groups = [(s, f"{group_prefix}{consumer_group(s.service)}") for s in stages]
        deadline = time.monotonic() + timeout_s
        topics: list[str] = []
        try:
            while True:
                children.check_alive()
                if time.monotonic() > deadline:
                    raise BrokerError(f"the pipeline did not finish within {timeout_s:.0f}s")
                code = ingestor.proc.poll()
                if code is not None and code != 0:
                    raise BrokerError(f"the replay failed: {ingestor.last_log_line()}")
                if code is None:
                    time.sleep(0.2)
                    continue
                if not topics:
                    described = Admin(kafka, quiet=True).describe().topics
                    topics = [t for t in described if t.startswith(topic_prefix)]
                waiting = next(
                    (
                        stage.service
                        for stage, group in groups
                        if not _caught_up(watch, group, input_topics(stage, names), topics)
                    ),
                    None,
                )
                if waiting is None:
                    ended = time.time()
                    break
                progress(f"waiting for {waiting}")
                time.sleep(0.05)
        finally:
            watch.close()
    summary = _ingest_summary(ingestor)
    first_ms = first_timestamp_ms(kafka, names.raw)
    if first_ms is None:
        raise BrokerError("the replay produced no raw readings: check the data span")
    counts = count_topics(kafka, list(names.all().values()))
    return PipelineResult(
        raw_readings=counts[names.raw],
        seconds=ended - first_ms / 1000.0,
        ingest_seconds=float(str(summary.get("seconds", 0.0))),
        counts=counts,
    )
