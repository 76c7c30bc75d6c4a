"""Property: the alert engine's outputs do not depend on how far the series of one partition
lag each other (up to 3 days of data, as the detector's forecast join makes them after a
kill), on how its input topics interleave, nor on a crash in the middle (every state entry
saved at a commit and restored into a new processor, the records since read again)."""

from __future__ import annotations

import functools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from gridstream.bus.alert_feed import alert_feed_topic, alert_region, watermark_series
from gridstream.bus.processor import InRecord
from gridstream.bus.state import StateView
from gridstream.bus.topics import TopicNames
from gridstream.schemas import alert_pb2, readings_pb2
from gridstream.services.alert_engine.receivers import ReceiverHub
from gridstream.services.alert_engine.rules import DEFAULT_RULES_FILE, RulesHolder
from gridstream.services.alert_engine.service import AlertEngineProcessor
from gridstream.services.alert_engine.state import EngineState

from .verdicts import spike_verdict

T0 = 1_599_681_600_000
STEP = 1_800_000  # 30 min
STEPS = 4 * 48  # four days of data
MAX_LAG = 3 * 48  # three days, in steps
SERIES = ("ALL/SYSTEM_DEMAND", "ALL/WIND_ACTUAL", "NI/SYSTEM_DEMAND")
GAP = range(60, 67)  # ALL/WIND_ACTUAL sends nothing for 3.5 h: FeedStale

Output = tuple[str, bytes, tuple[tuple[str, bytes], ...]]
ALERTS = TopicNames().alerts
FEED = alert_feed_topic(TopicNames())


def _bad(series: int, i: int) -> int:
    """0 normal, 1 a warning, 2 critical: episodes at different times per series."""
    if 20 + 30 * series <= i < 24 + 30 * series:
        return 2
    if 100 + 10 * series <= i < 106 + 10 * series:
        return 1
    return 0


def _series_records(topics: TopicNames) -> dict[tuple[str, str], list[InRecord]]:
    """Per (topic, series): its records in their own order (one series of one partition)."""
    out: dict[tuple[str, str], list[InRecord]] = {}
    for n, s in enumerate(SERIES):
        region, _, field = s.partition("/")
        readings: list[InRecord] = []
        anomalies: list[InRecord] = []
        for i in range(STEPS):
            if s == "ALL/WIND_ACTUAL" and i in GAP:
                continue
            ts = T0 + i * STEP
            value = 7400.0 if s == SERIES[0] and 40 <= i < 46 else 5000.0 + i
            clean = readings_pb2.CleanReading(
                series_id=s, region=region, field=field, ts_ms=ts, value=value
            )
            readings.append(InRecord(topics.preprocessed, 0, i, s, clean, ts))
            verdict = spike_verdict(s, ts, value, _bad(n, i))
            anomalies.append(InRecord(topics.anomalies, 0, i, s, verdict, ts))
        out[(topics.preprocessed, s)] = readings
        out[(topics.anomalies, s)] = anomalies
    return out


def _partition_order(
    streams: dict[tuple[str, str], list[InRecord]], lags: list[int], rnd: random.Random
) -> list[InRecord]:
    """One topic partition after a kill: each series delayed by its lag, ties in any order.
    Every series' first record comes first, and the caller feeds those of both topics before
    the rest (a stream first seen after the merge moved past it is late: the merge's
    documented gap). Offsets are the partition's own."""
    firsts = [rs[0] for rs in streams.values()]
    rest = [
        (r.timestamp_ms + lag * STEP, rnd.random(), r)
        for rs, lag in zip(streams.values(), lags, strict=True)
        for r in rs[1:]
    ]
    ordered = firsts + [r for _, _, r in sorted(rest, key=lambda x: x[:2])]
    return [
        InRecord(r.topic, 0, offset, r.key, r.value, r.timestamp_ms)
        for offset, r in enumerate(ordered)
    ]


def _processor() -> AlertEngineProcessor:
    rules = RulesHolder(DEFAULT_RULES_FILE)
    return AlertEngineProcessor(TopicNames(), rules, ReceiverHub([]), consume_readings=True)


def _run(sequence: list[InRecord], crash_at: int | None) -> list[Output]:
    """The alerts of :func:`_run_all`."""
    return [(k, v, h) for topic, k, v, h in _run_all(sequence, crash_at) if topic == ALERTS]


def _run_all(sequence: list[InRecord], crash_at: int | None) -> list[tuple[str, *Output]]:
    """Feed ``sequence``; at ``crash_at`` every state entry is saved (a commit) and a new
    processor restored from the saved bytes reads the records from there on."""
    p = _processor()
    view: StateView[EngineState] = StateView(0)
    codec = p.state_codec
    assert codec is not None
    out: list[tuple[str, *Output]] = []
    for n, record in enumerate(sequence):
        if n == crash_at:
            saved = {k: codec.to_bytes(v) for k in list(view.keys()) if (v := view.get(k))}
            p, view = _processor(), StateView(0)
            for key, data in saved.items():
                view.load(key, codec.from_bytes(data))
        out.extend(
            (o.topic, o.key, o.value.SerializeToString(), o.headers)
            for o in p.process(record, view)
        )
    return out


@functools.cache
def _in_order() -> tuple[Output, ...]:
    streams = _series_records(TopicNames())
    everything = sorted(
        (r for rs in streams.values() for r in rs), key=lambda r: (r.timestamp_ms, r.topic, r.key)
    )
    return tuple(_run(everything, None))


@settings(max_examples=25, deadline=None)
@given(
    lags=st.lists(st.integers(0, MAX_LAG), min_size=2 * len(SERIES), max_size=2 * len(SERIES)),
    rnd=st.randoms(use_true_random=False),
    crash=st.none() | st.floats(0.0, 1.0),
)
def test_outputs_do_not_depend_on_lags_interleaving_or_a_crash(
    lags: list[int], rnd: random.Random, crash: float | None
) -> None:
    topics = TopicNames()
    streams = _series_records(topics)
    readings = {k: v for k, v in streams.items() if k[0] == topics.preprocessed}
    anomalies = {k: v for k, v in streams.items() if k[0] == topics.anomalies}
    parts = [
        _partition_order(readings, lags[: len(SERIES)], rnd),
        _partition_order(anomalies, lags[len(SERIES) :], rnd),
    ]
    sequence = [part.pop(0) for part in parts for _ in SERIES]  # every stream's first record
    while any(parts):  # then the two topics interleave in any order
        part = rnd.choice([q for q in parts if q])
        sequence.append(part.pop(0))
    crash_at = None if crash is None else int(crash * (len(sequence) - 1))
    expected = list(_in_order())
    names = {_name(data) for _, data, _ in expected}
    assert {"FeedStale", "AnomalyCritical", "AnomalyPersistent", "DemandVeryHigh"} <= names
    everything = _run_all(sequence, crash_at)
    assert [(k, v, h) for topic, k, v, h in everything if topic == ALERTS] == expected
    _assert_feed_complete_up_to_each_watermark(everything)


def _assert_feed_complete_up_to_each_watermark(records: list[tuple[str, *Output]]) -> None:
    """The rebalancer's feed, per region key: every alert that names the region, in order,
    and a series' watermark at ``T`` only after every alert of that series up to ``T``."""
    alerts = [(k, alert_pb2.Alert.FromString(v)) for topic, k, v, _ in records if topic == ALERTS]
    feed = [(k, alert_pb2.Alert.FromString(v)) for topic, k, v, _ in records if topic == FEED]
    copies = [(k, a) for k, a in feed if watermark_series(a) is None]
    assert [a for _, a in copies] == [a for _, a in alerts if alert_region(a)]
    assert all(k == alert_region(a) for k, a in copies)
    marks = [(i, watermark_series(a), a.updated_at_ms) for i, (_, a) in enumerate(feed)]
    marks = [(i, s, t) for i, s, t in marks if s is not None]
    assert {s for _, s, _ in marks} == set(SERIES)
    for i, series, through in marks:
        want = [a for _, a in alerts if a.labels.get("series") == series]
        want = [a for a in want if a.updated_at_ms <= through]
        seen = [a for _, a in feed[:i] if a.labels.get("series") == series]
        assert all(a in seen for a in want), (series, through)


def _name(data: bytes) -> str:
    return str(alert_pb2.Alert.FromString(data).name)
