"""The processing runner on a real broker: exactly once across SIGKILL, dead letters, readiness."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from gridstream.bus.producer import MessageProducer
from gridstream.bus.reader import count_until_quiet, read_topic
from gridstream.bus.runner import Runner, RunnerConfig
from gridstream.bus.serde import encode
from gridstream.bus.settings import KafkaSettings
from gridstream.schemas.anomaly_pb2 import Anomaly
from gridstream.schemas.dead_letter_pb2 import DeadLetter
from gridstream.schemas.readings_pb2 import CleanReading, RawReading

from .counting_processor import CountingProcessor

pytestmark = pytest.mark.integration
HERE = Path(__file__).resolve().parent


def produce_readings(
    settings: KafkaSettings, topic: str, series: list[str], per_series: int
) -> None:
    producer = MessageProducer(settings)
    for i in range(per_series):
        for s in series:
            producer.send(
                topic,
                s,
                RawReading(
                    record_id=f"{s}@{i}",
                    series_id=s,
                    ts_ms=i * 900_000,
                    value=float(i),
                    has_value=True,
                ),
            )
    producer.flush()


def start_counting(
    bootstrap: str, source: str, sink: str, group: str, dlq: str
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        # 3 ms per record: a fast machine must not finish before the test can kill it
        [
            sys.executable,
            str(HERE / "counting_processor.py"),
            bootstrap,
            source,
            sink,
            group,
            dlq,
            "0.003",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(HERE)},
    )


def test_exactly_once_across_sigkill(
    kafka_settings, kafka_bootstrap, topic_factory, unique
) -> None:  # type: ignore[no-untyped-def]
    source, sink, dlq = topic_factory("src"), topic_factory("sink"), topic_factory("dlq")
    group = unique("group")
    series = [f"R{i}/FIELD" for i in range(12)]
    per_series = 250
    produce_readings(kafka_settings, source, series, per_series)
    expected = len(series) * per_series

    kills = 0
    proc = start_counting(kafka_bootstrap, source, sink, group, dlq)
    deadline = time.monotonic() + 240
    from gridstream.bus.reader import CommittedCounter

    counter = CommittedCounter(kafka_settings, sink)
    try:
        while time.monotonic() < deadline:
            done = counter.poll(0.5)
            if kills < 3 and done >= (kills + 1) * expected // 4:
                proc.send_signal(signal.SIGKILL)  # mid-stream, mid-transaction
                proc.wait()
                kills += 1
                proc = start_counting(kafka_bootstrap, source, sink, group, dlq)
            if done >= expected:
                break
            time.sleep(0.2)
    finally:
        counter.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)

    assert kills == 3, "the runner finished before it could be killed three times"
    out = read_topic(kafka_settings, sink, CleanReading)
    ids = [r.value.record_id for r in out]
    assert len(ids) == expected, f"expected {expected} outputs, got {len(ids)}"
    assert len(set(ids)) == expected, "duplicates in the committed output"
    counts: dict[str, list[int]] = defaultdict(list)
    for r in sorted(out, key=lambda r: (r.partition, r.offset)):
        counts[r.value.series_id].append(int(r.value.stuck_intervals))
    # keyed state survived every kill exactly once: counts are 1..n in order per series
    for s in series:
        assert counts[s] == list(range(1, per_series + 1)), s


def _run_in_thread(runner: Runner[int]) -> threading.Thread:
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    return thread


@contextmanager
def counting_runner(
    kafka_settings: KafkaSettings,
    source: str,
    sink: str,
    dlq: str,
    group: str,
    runner_type: type[Runner[int]] = Runner,
) -> Iterator[Runner[int]]:
    """A counting runner from ``source`` to ``sink`` running in a thread for the block."""
    runner: Runner[int] = runner_type(
        kafka_settings,
        RunnerConfig(service="counting", group=group, dead_letter_topic=dlq),
        CountingProcessor(source, sink),
    )
    thread = _run_in_thread(runner)
    try:
        yield runner
    finally:
        runner.stop()
        thread.join(30)


def test_poison_records_go_to_dead_letter_and_processing_continues(
    kafka_settings, topic_factory, unique
) -> None:  # type: ignore[no-untyped-def]
    source, sink, dlq = topic_factory("src"), topic_factory("sink"), topic_factory("dlq")
    producer = MessageProducer(kafka_settings)
    good = RawReading(series_id="ALL/SYSTEM_DEMAND", value=1.0, has_value=True, record_id="g1")
    producer.send(source, "ALL/SYSTEM_DEMAND", good)
    producer.send_raw(source, b"ALL/SYSTEM_DEMAND", os.urandom(64))  # random bytes, no headers
    wrong_value, wrong_headers = encode(Anomaly(series_id="ALL/SYSTEM_DEMAND"))
    producer.send_raw(source, b"ALL/SYSTEM_DEMAND", wrong_value, wrong_headers)  # wrong type
    producer.send(
        source,
        "ALL/SYSTEM_DEMAND",
        RawReading(series_id="ALL/SYSTEM_DEMAND", value=-5, has_value=True),
    )  # invalid
    producer.send(
        source,
        "ALL/SYSTEM_DEMAND",
        RawReading(series_id="ALL/SYSTEM_DEMAND", value=2.0, has_value=True, record_id="g2"),
    )
    producer.flush()

    with counting_runner(kafka_settings, source, sink, dlq, unique("g")) as runner:
        assert (
            count_until_quiet(kafka_settings, sink, quiet_s=2, timeout_s=90, expect_at_least=2) == 2
        )
        assert (
            count_until_quiet(kafka_settings, dlq, quiet_s=1, timeout_s=30, expect_at_least=3) == 3
        )
    letters = read_topic(kafka_settings, dlq, DeadLetter)
    reasons = [r.value.reason for r in letters]
    assert any("missing gs-type header" in r for r in reasons), reasons
    assert any("expected gridstream.v1.RawReading, got gridstream.v1.Anomaly" in r for r in reasons)
    assert any("negative value" in r for r in reasons)
    for r in letters:
        assert r.value.service == "counting" and r.value.source_topic == source
        assert (
            r.headers["gs-dlq-source"]
            == f"{source}/{r.value.source_partition}/{r.value.source_offset}"
        )
        assert r.value.original_value  # the original bytes are kept
    out_records = read_topic(kafka_settings, sink, CleanReading)
    assert [r.value.record_id for r in out_records] == ["g1", "g2"]
    # the correlation id of each input (here its record id) follows it to its output
    assert [r.headers["gs-correlation-id"] for r in out_records] == ["g1", "g2"]
    metrics = runner.registry.get_sample_value(
        "gridstream_dead_letters_total", {"service": "counting", "error_type": "ValidationError"}
    )
    assert metrics == 1.0


class _AbortDies:
    """A transactional producer whose first ``abort_transaction`` fails fatally, as
    librdkafka's did once in CI (INVALID_TXN_STATE: the abort raced the registration of the
    batch's partitions); everything else goes to the real producer."""

    def __init__(self, producer: Any) -> None:
        self._producer = producer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._producer, name)

    def abort_transaction(self, timeout: float) -> None:
        raise KafkaException(
            KafkaError(KafkaError.INVALID_TXN_STATE, "Failed to end transaction", fatal=True)
        )


class _RunnerWhoseFirstAbortDies(Runner[int]):
    def _setup(self) -> None:
        super()._setup()
        if not getattr(self, "_wrapped", False):
            self._wrapped = True
            self._producer = _AbortDies(self._producer)


@pytest.mark.parametrize(
    "runner_type", [Runner, _RunnerWhoseFirstAbortDies], ids=["abort", "abort-dies"]
)
def test_a_processor_crash_leaves_no_trace_in_state_or_outputs(
    kafka_settings, topic_factory, unique, runner_type
) -> None:  # type: ignore[no-untyped-def]
    """With a failed abort, the runner starts over with new clients: the new transactional
    producer fences the dead one and the broker aborts its transaction."""
    source, sink, dlq = topic_factory("src"), topic_factory("sink"), topic_factory("dlq")
    producer = MessageProducer(kafka_settings)
    sid = "ALL/SYSTEM_DEMAND"
    ids = ["r1", "r2", "crash-3", "r4", "r5"]
    for i, rid in enumerate(ids):
        producer.send(source, sid, RawReading(series_id=sid, value=float(i), record_id=rid))
    producer.flush()
    with counting_runner(kafka_settings, source, sink, dlq, unique("g"), runner_type) as runner:
        assert count_until_quiet(kafka_settings, sink, quiet_s=2, timeout_s=90, expect_at_least=4)
        assert count_until_quiet(kafka_settings, dlq, quiet_s=1, timeout_s=30, expect_at_least=1)
        assert runner.health.snapshot().ready  # it is still running
    out = read_topic(kafka_settings, sink, CleanReading)
    # the crash's state change (+1000) was undone with its batch: counts go on 1, 2, 3, 4
    assert [(r.value.record_id, r.value.stuck_intervals) for r in out] == [
        ("r1", 1),
        ("r2", 2),
        ("r4", 3),
        ("r5", 4),
    ]
    [letter] = read_topic(kafka_settings, dlq, DeadLetter)
    assert "processor bug on crash-3" in letter.value.reason
    assert letter.value.source_topic == source
    aborted = runner.registry.get_sample_value(
        "gridstream_transactions_aborted_total", {"service": "counting"}
    )
    assert aborted is not None and aborted >= 1


def test_ready_is_false_until_the_broker_is_reachable(tmp_path, unique) -> None:  # type: ignore[no-untyped-def]
    from gridstream.broker.cluster import LocalCluster
    from gridstream.broker.ports import free_ports

    port = free_ports(1)[0]
    settings = KafkaSettings(bootstrap=f"127.0.0.1:{port}")
    runner: Runner[int] = Runner(
        settings,
        RunnerConfig(service="counting", group=unique("g"), dead_letter_topic="dlq"),
        CountingProcessor("ready-src", "ready-sink"),
    )
    assert not runner.health.snapshot().ready  # not started
    cluster = LocalCluster(tmp_path / "kafka", port=port)
    # the runner's setup needs the broker (changelog topic); run it once the broker is up,
    # and check readiness is false while no partitions are assigned
    cluster.start()
    try:
        from gridstream.bus.admin import Admin
        from gridstream.bus.topics import TopicSpec

        thread = _run_in_thread(runner)
        time.sleep(3)
        snap = runner.health.snapshot()
        assert not snap.ready and "no partitions assigned" in snap.detail
        Admin(settings).ensure_topics([TopicSpec("ready-src", 1), TopicSpec("ready-sink", 1)])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not runner.health.snapshot().ready:
            time.sleep(0.5)
        assert runner.health.snapshot().ready, runner.health.snapshot().detail
        runner.stop()
        thread.join(30)
        assert not runner.health.snapshot().ready
    finally:
        cluster.stop()


def test_a_lost_group_session_renews_the_producer_between_batches(
    kafka_settings, topic_factory, unique
) -> None:  # type: ignore[no-untyped-def]
    """After the consumer lost its group session (the coordinator's broker restarted), the
    next batch goes through a new transactional producer (the old one may keep the dropped
    coordinator cached and hang): counts go on without a gap or a repeat."""
    source, sink, dlq = topic_factory("src"), topic_factory("sink"), topic_factory("dlq")
    sid = "ALL/SYSTEM_DEMAND"
    producer = MessageProducer(kafka_settings)

    def send(ids: range) -> None:
        for i in ids:
            producer.send(source, sid, RawReading(series_id=sid, value=1.0, record_id=f"r{i}"))
        producer.flush()

    send(range(5))
    with counting_runner(kafka_settings, source, sink, dlq, unique("g")) as runner:
        assert count_until_quiet(kafka_settings, sink, quiet_s=1, timeout_s=90, expect_at_least=5)
        first = runner._producer
        # what _on_lost (librdkafka's callback when the session expired) leaves for the loop
        runner._producer_stale = True
        send(range(5, 10))
        assert count_until_quiet(kafka_settings, sink, quiet_s=1, timeout_s=90, expect_at_least=10)
        assert runner._producer is not None and runner._producer is not first
        assert not runner._producer_stale
    out = read_topic(kafka_settings, sink, CleanReading)
    assert [(r.value.record_id, r.value.stuck_intervals) for r in out] == [
        (f"r{i}", i + 1) for i in range(10)
    ]
