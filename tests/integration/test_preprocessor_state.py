"""smart-preprocessor's keyed state survives a restart; episode events are emitted once."""

from __future__ import annotations

import pytest

from gridstream.bus.producer import MessageProducer
from gridstream.bus.reader import read_topic
from gridstream.schemas import alert_pb2, common_pb2, readings_pb2
from gridstream.sources.records import make_raw_reading

from .ingest_support import RunningPreprocessor, ms, pipeline_settings, wait_for

pytestmark = pytest.mark.integration
Q = 900_000
T0 = ms(2024, 1, 10)


def _send(settings, values: list[tuple[int, float]]) -> None:  # type: ignore[no-untyped-def]
    producer = MessageProducer(settings.kafka())
    for i, value in values:
        reading = make_raw_reading(
            region="ALL", field="SYSTEM_DEMAND", ts_ms=T0 + i * Q, value=value
        )
        producer.send(settings.topics.raw, reading.series_id, reading)
    producer.flush()


def test_state_survives_restart_and_episodes_once(kafka_bootstrap, unique, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = pipeline_settings(kafka_bootstrap, unique("pre"), tmp_path)
    group = unique("group")
    # 6 moving values, then a flatline of 3 (demand's limit is 5 readings, an hour: not stuck yet)
    first = [(i, 4000.0 + 10 * i) for i in range(6)] + [(i, 5000.0) for i in range(6, 9)]
    pre = RunningPreprocessor(settings, group)
    wait_for(lambda: pre.runner.health.snapshot().ready, 90, "preprocessor ready")
    _send(settings, first)
    pre.wait_consumed(len(first))
    pre.stop()

    # after the restart: a duplicate of a seen reading, the flatline goes on, then moves again
    second = [(8, 5000.0)] + [(i, 5000.0) for i in range(9, 20)] + [(20, 5100.0)]
    pre = RunningPreprocessor(settings, group)
    wait_for(lambda: pre.runner.health.snapshot().ready, 90, "preprocessor ready again")
    _send(settings, second)
    pre.wait_consumed(len(second))
    pre.stop()

    kafka = settings.kafka()
    clean = [
        r.value for r in read_topic(kafka, settings.topics.preprocessed, readings_pb2.CleanReading)
    ]
    assert [c.ts_ms for c in clean] == [T0 + i * Q for i in range(21)]  # duplicate suppressed
    runs = [c.stuck_intervals for c in clean]
    assert runs[6:20] == list(range(1, 15))  # the run count continued across the restart
    stuck = [i for i, c in enumerate(clean) if common_pb2.QUALITY_FLAG_STUCK in c.flags]
    assert stuck == list(range(10, 20))
    assert not any(c.gap_before_ms for c in clean)
    events = [
        r.value for r in read_topic(kafka, settings.topics.system_events, alert_pb2.SystemEvent)
    ]
    assert [(e.kind, e.ts_ms) for e in events] == [
        ("feed_stuck", T0 + 10 * Q),
        ("feed_recovered", T0 + 20 * Q),
    ]
