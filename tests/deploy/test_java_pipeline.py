"""A week of real data through the real services, then read back by the Java client.

1-7 July 2022 (every recorded area of the island, cut from ../shared/data into a temporary
directory) is replayed as ``RawReading`` records into a real broker, where the preprocessor,
ml-preprocessor, forecaster (seasonal-naive: no trained model), anomaly detector, storage
optimiser and grid rebalancer run in-process, each with its own consumer group. Once the
pipeline has settled and stopped, the Java client consumes ``forecast_output``,
``anomaly_output`` and ``rebalance_actions`` and every record it prints must match the record
Python decodes at the same partition and offset: same count, same ids, same values.
"""

from __future__ import annotations

import gzip
import json
import logging
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from conftest import REPO
from google.protobuf import json_format
from google.protobuf.message import Message

from gridstream.bus.admin import Admin
from gridstream.bus.producer import MessageProducer
from gridstream.bus.reader import CommittedCounter, ReadRecord, read_topic
from gridstream.bus.runner import Runner
from gridstream.bus.topics import TopicNames, topic_specs
from gridstream.config import Settings
from gridstream.schemas import anomaly_pb2, forecast_pb2, rebalance_pb2

log = logging.getLogger(__name__)
pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(600)]

RECORDED = REPO.parent / "shared" / "data" / "eirgrid" / "smartgriddashboard"
AREAS = ("demandactual", "windactual", "generationactual", "co2intensity", "co2emission", "SnspALL")
WEEK = tuple(f"{d:02d}-Jul-2022" for d in range(1, 8))
#: the pipeline has settled when no watched topic has grown for this long
QUIET_S = 6.0
SETTLE_TIMEOUT_S = 150.0


def one_week(target: Path) -> list[Path]:
    """1-7 July 2022 of every recorded ALL area, in the recorded file layout."""
    if not RECORDED.exists():
        pytest.skip(f"real data not available: {RECORDED} is missing")
    target.mkdir(parents=True)
    paths = []
    for area in AREAS:
        source = RECORDED / "ALL" / f"ALL_{area}_22_Eirgrid.csv.gz"
        with gzip.open(source, "rt") as fh:
            rows = [line for line in fh if line.startswith(WEEK)]
        assert rows, f"no July 2022 rows in {source}"
        path = target / f"ALL_{area}_22_Eirgrid.csv"
        path.write_text("".join(rows))
        paths.append(path)
    return paths


@dataclass
class Worker:
    name: str
    runner: Runner[Any]

    def ready(self) -> bool:
        return self.runner.health.snapshot().ready


def workers(settings: Settings, unique: Callable[[str], str]) -> list[Worker]:
    """The six services between raw_energy_data and rebalance_actions, each in its own group."""
    from gridstream.services.anomaly_detector.service import SERVICE, AnomalyDetectorProcessor
    from gridstream.services.base import make_runner
    from gridstream.services.forecaster.service import forecaster_runner
    from gridstream.services.grid_rebalancer import service as grid_rebalancer
    from gridstream.services.ml_preprocessor.service import ml_preprocessor_runner
    from gridstream.services.preprocessor.service import preprocessor_runner
    from gridstream.services.storage_optimizer import service as storage_optimizer

    runners: dict[str, Runner[Any]] = {
        "preprocessor": preprocessor_runner(settings, group=unique("pre")),
        "ml-preprocessor": ml_preprocessor_runner(settings, group=unique("mlp")),
        "forecaster": forecaster_runner(settings, group=unique("fcst")),
        "anomaly-detector": make_runner(
            settings, SERVICE, AnomalyDetectorProcessor(settings.topics), group=unique("anom")
        ),
    }
    parts = {
        "storage-optimizer": storage_optimizer.build(
            settings, storage_optimizer.StorageSettings(), unique("opt")
        ),
        "grid-rebalancer": grid_rebalancer.build(
            settings,
            grid_rebalancer.RebalancerSettings(alert_fields=""),  # no alert engine here
            unique("rebal"),
        ),
    }
    runners.update({name: cast("Runner[Any]", p.worker) for name, p in parts.items()})
    return [Worker(name, r) for name, r in runners.items()]


@contextmanager
def running(services: list[Worker]) -> Iterator[list[threading.Thread]]:
    threads = [threading.Thread(target=w.runner.run, name=w.name, daemon=True) for w in services]
    for t in threads:
        t.start()
    try:
        yield threads
    finally:
        for w in services:
            w.runner.stop()
        for t in threads:
            t.join(60)
        assert not [t.name for t in threads if t.is_alive()], "a service did not stop"


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def settle(settings: Settings, threads: list[threading.Thread]) -> dict[str, int]:
    """Committed counts once every pipeline topic has stopped growing (and actions exist)."""
    kafka = settings.kafka("test-counter")
    names = ("preprocessed", "ml_ready", "forecasts", "anomalies", "storage", "rebalance")
    counters = {n: CommittedCounter(kafka, getattr(settings.topics, n)) for n in names}
    counts: dict[str, int] = {}
    try:
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        last: dict[str, int] = {}
        stable_since = time.monotonic()
        while time.monotonic() < deadline:
            dead = [t.name for t in threads if not t.is_alive()]
            assert not dead, f"services died: {dead}"
            counts = {n: c.poll(0.5) for n, c in counters.items()}
            if counts != last:
                last, stable_since = counts, time.monotonic()
            elif all(counts.values()) and time.monotonic() - stable_since >= QUIET_S:
                return counts
            time.sleep(0.5)
    finally:
        for c in counters.values():
            c.close()
    raise AssertionError(f"the pipeline did not settle with records on every topic: {counts}")


def java_consume(
    java_client: list[str], bootstrap: str, topics: list[str], total: int
) -> list[dict[str, Any]]:
    cmd = [*java_client, "consume", "-b", bootstrap, "--from-beginning"]
    cmd += ["--max-messages", str(total), "--idle-ms", "20000"]
    cmd += ["-X", "isolation.level=read_committed"]  # as every Python reader does
    for topic in topics:
        cmd += ["-t", topic]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return [json.loads(line) for line in out.stdout.splitlines()]


def python_json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


ID_FIELD = {
    forecast_pb2.Forecast: "forecast_id",
    anomaly_pb2.Anomaly: "record_id",
    rebalance_pb2.RebalanceAction: "action_id",
}


def test_java_decodes_a_week_of_pipeline_output(
    java_client: list[str], kafka_bootstrap: str, unique: Callable[[str], str], tmp_path: Path
) -> None:
    from gridstream.sources.replay import iter_recorded

    paths = one_week(tmp_path / "week")
    settings = Settings(
        bootstrap=kafka_bootstrap,
        topics=TopicNames().with_prefix(unique("javapipe") + "-"),
        state_dir=tmp_path / "state",
        topic_partitions=2,
    )
    Admin(settings.kafka("test-admin")).ensure_topics(topic_specs(settings.topics, 2, 1))
    services = workers(settings, unique)
    with running(services) as threads:
        wait_until(lambda: all(w.ready() for w in services), 90, "every service ready")
        log.info("every service ready")
        producer = MessageProducer(settings.kafka("test-replay"))
        sent = 0
        for reading in iter_recorded(paths):
            producer.send(settings.topics.raw, reading.series_id, reading)
            sent += 1
        producer.flush()
        assert sent > 6 * 600, "a week of six quarter-hourly series"
        started = time.monotonic()
        counts = settle(settings, threads)
        log.info("%d readings settled in %.1f s: %s", sent, time.monotonic() - started, counts)
    assert counts["anomalies"] == counts["ml_ready"], "one verdict per feature vector"

    kafka = settings.kafka("test-reader")
    wanted: dict[str, type[Message]] = {
        settings.topics.forecasts: forecast_pb2.Forecast,
        settings.topics.anomalies: anomaly_pb2.Anomaly,
        settings.topics.rebalance: rebalance_pb2.RebalanceAction,
    }
    python: dict[tuple[str, int, int], ReadRecord[Any]] = {
        (topic, r.partition, r.offset): r
        for topic, kind in wanted.items()
        for r in read_topic(kafka, topic, kind, timeout_s=60)
    }
    log.info("Python read %d records", len(python))
    assert len(python) == counts["forecasts"] + counts["anomalies"] + counts["rebalance"]
    storage_kinds = {
        rebalance_pb2.ACTION_KIND_STORAGE_CHARGE,
        rebalance_pb2.ACTION_KIND_STORAGE_DISCHARGE,
    }
    actions = [
        r.value for r in python.values() if isinstance(r.value, rebalance_pb2.RebalanceAction)
    ]
    assert any(a.kind in storage_kinds for a in actions), "the schedules led to no storage action"

    started = time.monotonic()
    java = java_consume(java_client, kafka_bootstrap, list(wanted), len(python))
    log.info("Java client printed %d records in %.1f s", len(java), time.monotonic() - started)
    by_place = {(r["topic"], r["partition"], r["offset"]): r for r in java}
    assert len(by_place) == len(java), "the Java client printed a record twice"
    assert by_place.keys() == python.keys()
    for topic, kind in wanted.items():
        ids = sorted(
            getattr(r.value, ID_FIELD[kind]) for (t, _, _), r in python.items() if t == topic
        )
        assert ids, f"no records on {topic}"
        assert sorted(r["value"][ID_FIELD[kind]] for r in java if r["topic"] == topic) == ids
    for place, record in python.items():
        printed = by_place[place]
        message = record.value
        assert printed["type"] == message.DESCRIPTOR.full_name
        assert printed["key"] == record.key
        assert printed["value"] == python_json(message), place
        if isinstance(message, forecast_pb2.Forecast):
            continue  # parsing back 96-step forecasts is slow; the JSON above covers every field
        back = type(message)()
        json_format.ParseDict(printed["value"], back)
        assert back.SerializeToString(deterministic=True) == message.SerializeToString(
            deterministic=True
        ), place
    log.info("every record compared")
