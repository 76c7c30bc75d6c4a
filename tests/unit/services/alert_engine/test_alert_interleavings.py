"""Property: the alert engine's outputs do not depend on how its input topics interleave,
nor on a crash (state restored from its bytes, the records since the commit read again)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gridstream.bus.processor import InRecord
from gridstream.bus.state import StateView
from gridstream.bus.topics import TopicNames
from gridstream.core.alerts.engine import AlertEngine
from gridstream.schemas import anomaly_pb2, common_pb2, readings_pb2
from gridstream.services.alert_engine.receivers import ReceiverHub
from gridstream.services.alert_engine.rules import DEFAULT_RULES_FILE, RulesHolder
from gridstream.services.alert_engine.service import AlertEngineProcessor

T0 = 1_599_681_600_000
STEP = 300_000  # the whole run (45 min) is within the merge grace (1 h)
SERIES = ("ALL/SYSTEM_DEMAND", "NI/SYSTEM_DEMAND")


def _topic_records(topics: TopicNames) -> dict[str, list[InRecord]]:
    readings: list[InRecord] = []
    anomalies: list[InRecord] = []
    for i in range(10):
        for s in SERIES:
            region, _, field = s.partition("/")
            ts = T0 + i * STEP
            value = 7500.0 if i < 6 else 5000.0
            clean = readings_pb2.CleanReading(
                series_id=s, region=region, field=field, ts_ms=ts, value=value
            )
            readings.append(InRecord(topics.preprocessed, 0, len(readings), s, clean, ts))
            bad = 2 <= i < 5 and s == SERIES[0]
            verdict = anomaly_pb2.Anomaly(
                record_id=f"{s}@{ts}",
                series_id=s,
                region=region,
                field=field,
                ts_ms=ts,
                value=value,
                score=1.0 if bad else 0.0,
                is_anomaly=bad,
                label="spike",
                severity=common_pb2.SEVERITY_CRITICAL if bad else common_pb2.SEVERITY_INFO,
            )
            anomalies.append(InRecord(topics.anomalies, 0, len(anomalies), s, verdict, ts))
    return {topics.preprocessed: readings, topics.anomalies: anomalies}


def _processor() -> AlertEngineProcessor:
    return AlertEngineProcessor(TopicNames(), RulesHolder(DEFAULT_RULES_FILE), ReceiverHub([]))


def _run(order: list[str], crash_at: int | None) -> list[tuple[str, bytes]]:
    """Feed the records in ``order`` (topic per step); at ``crash_at`` the state is saved
    (a commit), the run goes on and its later outputs are lost (a crash), and a new processor
    restored from the saved bytes reads the records since the commit again."""
    p = _processor()
    queues = {t: list(rs) for t, rs in _topic_records(p.topics).items()}
    sequence = [queues[t].pop(0) for t in order]
    view: StateView[AlertEngine] = StateView(0)
    committed: list[tuple[str, bytes]] = []
    codec = p.state_codec
    assert codec is not None
    saved: bytes | None = None
    for n, record in enumerate(sequence):
        if n == crash_at:
            engine = view.get("engine")
            saved = None if engine is None else codec.to_bytes(engine)
            break
        committed.extend((o.key, o.value.SerializeToString()) for o in p.process(record, view))
    if crash_at is None:
        return committed
    p = _processor()
    view = StateView(0)
    if saved is not None:
        view.load("engine", codec.from_bytes(saved))
    for record in sequence[crash_at:]:
        committed.extend((o.key, o.value.SerializeToString()) for o in p.process(record, view))
    return committed


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_outputs_do_not_depend_on_interleaving_or_a_crash(data: st.DataObject) -> None:
    topics = TopicNames()
    order = [topics.preprocessed] * 20 + [topics.anomalies] * 20
    shuffled = data.draw(st.permutations(order))
    crash = data.draw(st.none() | st.integers(0, len(order) - 1))
    expected = _run(order, None)
    assert expected  # the data does raise and notify alerts
    assert _run(list(shuffled), crash) == expected
