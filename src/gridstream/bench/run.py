"""The whole benchmark in one run on one broker: ceiling, pipeline, latency, memory.

Self-contained: without ``bootstrap`` it starts a temporary single-node broker on a free
port (deleted afterwards); every topic and consumer group gets a random prefix, so a shared
broker (``bootstrap``, used by the smoke test) is left as it was found apart from the topics,
which are deleted at the end.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridstream.bench.data import DEFAULT_DATA, expected_counts, live_rows, select_span
from gridstream.bench.instances import instance_label
from gridstream.bench.latency import live_reading, run_latency
from gridstream.bench.pipeline import run_pipeline
from gridstream.bench.processes import BROKER, ChildSet, cpu_seconds
from gridstream.bench.report import latency_fields
from gridstream.bench.stages import available, hops
from gridstream.broker.ports import free_ports
from gridstream.bus.admin import Admin
from gridstream.bus.reader import read_topic
from gridstream.bus.serde import encode
from gridstream.bus.settings import KafkaSettings
from gridstream.bus.throughput import measure_ceiling
from gridstream.bus.topics import TopicNames, TopicSpec, topic_specs
from gridstream.errors import BrokerError
from gridstream.schemas import dead_letter_pb2
from gridstream.sources.records import series_id

log = logging.getLogger(__name__)
PARTITIONS = 3
TRAINER = "smart-model-trainer"
#: the trainer's CPU on model decisions and trainings (per checkpoint, not per reading)
MODEL_CPU = "gridstream_trainer_model_cpu_seconds"


@dataclass(frozen=True)
class BenchOptions:
    data: Path = DEFAULT_DATA
    regions: tuple[str, ...] = ("ALL",)
    year: int = 2021
    days: float = 365.0
    rate_per_s: float = 100.0
    latency_s: float = 30.0
    batch_size: int = 5000
    bootstrap: str | None = None
    log_dir: Path | None = None
    partitions: int = PARTITIONS
    #: service -> processes (instances) in its consumer group; others run one
    instances: dict[str, int] = field(default_factory=dict)


@contextlib.contextmanager
def _broker(bootstrap: str | None) -> Iterator[tuple[str, list[int]]]:
    """The bootstrap address and the broker's process ids (none for a given broker)."""
    if bootstrap:
        yield bootstrap, []
        return
    from gridstream.broker.cluster import LocalCluster, jvm_flags
    from gridstream.config import load_settings

    jvm = jvm_flags(load_settings().broker.jvm_options)
    with tempfile.TemporaryDirectory(prefix="gridstream-bench-kafka-") as tmp:
        cluster = LocalCluster(Path(tmp), port=free_ports(1)[0], jvm_options=jvm)
        state = cluster.start()
        try:
            yield state.bootstrap, [node.pid for node in state.nodes]
        finally:
            cluster.stop()


def _cpu(children: ChildSet, broker_pids: list[int]) -> dict[str, float]:
    """CPU seconds used so far by each service and (when the bench started it) the broker."""
    out = children.cpu()
    if broker_pids:
        out[BROKER] = round(sum(cpu_seconds(pid) or 0.0 for pid in broker_pids), 1)
    return out


def _spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: round(value - before.get(name, 0.0), 1) for name, value in after.items()}


def _child_env(
    bootstrap: str, names: TopicNames, state_dir: Path, batch: int, partitions: int
) -> dict[str, str]:
    env = {
        "GRIDSTREAM_BOOTSTRAP": bootstrap,
        "GRIDSTREAM_STATE_DIR": str(state_dir),
        "GRIDSTREAM_BATCH_SIZE": str(batch),
        "GRIDSTREAM_PROCESSING_GUARANTEE": "exactly_once",
        "GRIDSTREAM_TOPIC_PARTITIONS": str(partitions),
        "GRIDSTREAM_TOPIC_REPLICATION": "1",
        "GRIDSTREAM_LOG_FORMAT": "text",
        "GRIDSTREAM_LOG_LEVEL": "WARNING",
        "GRIDSTREAM_HTTP_HOST": "127.0.0.1",
    }
    for logical, name in names.all().items():
        env[f"GRIDSTREAM_TOPICS__{logical.upper()}"] = name
    return env


def _dead_letters_by_service(kafka: KafkaSettings, topic: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for rec in read_topic(kafka, topic, dead_letter_pb2.DeadLetter):
        out[rec.value.service] = out.get(rec.value.service, 0) + 1
    return out


def run_bench(
    options: BenchOptions, progress: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """Run every phase and return the result document (see ``report``)."""
    span = select_span(options.data, options.regions, options.year, options.days)
    progress("counting the recorded rows")
    expected = expected_counts(span)
    rows = live_rows(span, max(1, int(options.rate_per_s * options.latency_s)))
    stages, missing = available()
    load_before = os.getloadavg()[0]
    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    names = TopicNames().with_prefix(prefix)
    progress("starting the broker" if not options.bootstrap else "using the given broker")
    with (
        _broker(options.bootstrap) as (bootstrap, broker_pids),
        tempfile.TemporaryDirectory() as tmp,
    ):
        kafka = KafkaSettings(bootstrap=bootstrap, client_id="gridstream-bench")
        admin = Admin(kafka)
        ceiling_topic = f"{prefix}ceiling"
        admin.ensure_topics(
            [
                *topic_specs(names, options.partitions, 1),
                TopicSpec(ceiling_topic, options.partitions, 1),
            ]
        )
        try:
            payload, headers = encode(live_reading(rows[0]))
            keys = sorted({series_id(r, f).encode() for _, r, f, _, _ in rows[:200]})
            progress(f"ceiling: {expected.readings:,} raw records produce→consume")
            ceiling = measure_ceiling(
                kafka, ceiling_topic, expected.readings, payload, keys, headers
            )
            log_dir = options.log_dir or Path(tmp) / "logs"
            children = ChildSet(
                _child_env(
                    bootstrap, names, Path(tmp) / "state", options.batch_size, options.partitions
                ),
                log_dir,
            )
            try:
                members = [
                    (stage.service, k)
                    for stage in stages
                    for k in range(options.instances.get(stage.service, 1))
                ]
                ports = free_ports(len(members))
                for (service, k), port in zip(members, ports, strict=True):
                    label = instance_label(service, k)
                    children.start_service(service, port, prefix, k, label)
                progress(f"starting {len(members)} service processes")
                children.wait_ready()
                progress("replaying the span as fast as possible")
                cpu_before = _cpu(children, broker_pids)
                model_before = children.gauge(TRAINER, MODEL_CPU) or 0.0
                pipeline = run_pipeline(
                    kafka, names, children, span, stages, prefix, prefix, progress
                )
                cpu = _spent(cpu_before, _cpu(children, broker_pids))
                model_after = children.gauge(TRAINER, MODEL_CPU)
                model_cpu = None if model_after is None else model_after - model_before
                dead = _dead_letters_by_service(kafka, names.dead_letter)
                progress("waiting for the services to go quiet")
                settle_s = children.wait_quiet()
                progress(f"latency: {len(rows):,} readings at {options.rate_per_s:g}/s")
                cpu_before, live_started = _cpu(children, broker_pids), time.monotonic()
                latency = run_latency(kafka, names, rows, options.rate_per_s, progress=progress)
                latency_cpu = _spent(cpu_before, _cpu(children, broker_pids))
                live_window_s = time.monotonic() - live_started
                children.check_alive()
                peaks = children.peaks()
            finally:
                children.close()
        finally:
            if options.bootstrap:
                with contextlib.suppress(BrokerError):
                    existing = admin.describe().topics
                    admin.delete_topics([t for t in existing if t.startswith(prefix)])
    counts = {logical: pipeline.counts[name] for logical, name in names.all().items()}
    nhops = hops(pipeline.counts, names)
    bound = ceiling.msgs_per_s / nhops if nhops else 0.0
    clean = counts["preprocessed"]
    pre_dead = dead.get("smart-preprocessor", 0)
    result: dict[str, Any] = {
        "readings_per_s": round(pipeline.readings_per_s, 1),
        "ceiling_msgs_per_s": round(ceiling.msgs_per_s, 1),
        "hops": nhops,
        "broker_bound_readings_per_s": round(bound, 1),
        "ratio_to_broker_bound": round(pipeline.readings_per_s / bound, 3) if bound else None,
        **latency_fields(latency),
        "latency_settle_s": round(settle_s, 1),
        "peak_rss_mb": peaks,
        "pipeline_cpu_s": cpu,
        "trainer_model_cpu_s": None if model_cpu is None else round(model_cpu, 1),
        "latency_cpu_s": latency_cpu,
        "latency_cpu_window_s": round(live_window_s, 1),
        "raw_readings": pipeline.raw_readings,
        "expected_readings": expected.readings,
        "exact_duplicates": expected.exact_duplicates,
        "clean_readings": clean,
        "dead_letters": dead,
        "counts_reconcile": pipeline.raw_readings == expected.readings
        and pipeline.raw_readings == clean + pre_dead + expected.exact_duplicates,
        "topic_counts": counts,
        "messages_per_reading": round(sum(counts.values()) / pipeline.raw_readings, 2)
        if pipeline.raw_readings
        else None,
        "pipeline_seconds": round(pipeline.seconds, 2),
        "ingest_seconds": pipeline.ingest_seconds,
        "ceiling_seconds": round(ceiling.seconds, 2),
        "message_bytes": ceiling.message_bytes,
        "stages": ["smart-ingestor", *(s.service for s in stages)],
        "missing_stages": missing,
        "series": expected.series,
        "span": {
            "from": span.start.isoformat(),
            "to": span.end.isoformat(),
            "regions": list(span.regions),
        },
        "batch_size": options.batch_size,
        "partitions": options.partitions,
        "instances": {m: k for m, k in sorted(options.instances.items()) if k > 1},
        "guarantee": "exactly_once",
        "cpus": os.cpu_count(),
        "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    return result
