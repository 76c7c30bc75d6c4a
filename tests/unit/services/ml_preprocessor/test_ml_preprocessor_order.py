"""smart-ml-preprocessor's cross-series features do not depend on how the region's series
interleave on the repartition topic (it differs between runs after a restart), and a dead
peer feed does not stall the other series for ever."""

from __future__ import annotations

import math
import random

from gridstream.bus.processor import InRecord
from gridstream.bus.state import StateView
from gridstream.config import Settings
from gridstream.schemas import features_pb2, readings_pb2
from gridstream.services.forecaster.feature_vector import FeatureView, vector_values
from gridstream.services.ml_preprocessor import stream as features_stream
from gridstream.services.ml_preprocessor.service import MlPreprocessor, repartition_topic
from gridstream.services.ml_preprocessor.stream import FeatureSeries

T0 = 1_640_995_200_000  # 2022-01-01 00:00 UTC
STEP = 900_000
FIELDS = ("SYSTEM_DEMAND", "WIND_ACTUAL", "CO2_INTENSITY")


def reading(fld: str, i: int) -> readings_pb2.CleanReading:
    ts = T0 + i * STEP
    value = (
        {"SYSTEM_DEMAND": 4000 + 300 * math.sin(i / 9), "WIND_ACTUAL": 800 + 5 * i}[fld]
        if (fld != "CO2_INTENSITY")
        else 250 - (i % 17)
    )
    return readings_pb2.CleanReading(
        record_id=f"ALL/{fld}@{ts}",
        series_id=f"ALL/{fld}",
        region="ALL",
        field=fld,
        ts_ms=ts,
        value=float(value),
    )


def run(order: list[readings_pb2.CleanReading], batch: int = 7) -> dict[str, dict[str, float]]:
    settings = Settings()
    processor = MlPreprocessor(settings)
    topic = repartition_topic(settings)
    view: StateView[FeatureSeries] = StateView(0)
    out: dict[str, dict[str, float]] = {}
    for start in range(0, len(order), batch):
        for offset, clean in enumerate(order[start : start + batch], start):
            processor.process(InRecord(topic, 0, offset, "ALL", clean, clean.ts_ms), view)
        for record in processor.punctuate(T0, {0: view}):
            vector = record.value
            assert isinstance(vector, features_pb2.FeatureVector)
            key = f"{vector.series_id}@{vector.ts_ms}"
            assert key not in out, f"{key} released twice"
            packed = vector_values(vector)
            out[key] = dict(FeatureView(packed)) if packed is not None else {}
    return out


def shuffled(n: int, seed: int) -> list[readings_pb2.CleanReading]:
    """Each series in its own order, the series interleaved at random (bursts included)."""
    queues = {f: [reading(f, i) for i in range(n)] for f in FIELDS}
    rng = random.Random(seed)
    merged = []
    while any(queues.values()):
        fld = rng.choice([f for f in FIELDS if queues[f]])
        take = rng.choice([1, 1, 2, 40])
        merged += queues[fld][:take]
        del queues[fld][:take]
    return merged


def test_features_are_the_same_whatever_the_interleaving() -> None:
    n = 300
    lockstep = [reading(f, i) for i in range(n) for f in FIELDS]
    reference = run(lockstep)
    assert len(reference) == 3 * n  # every reading: the last slot has all its peers too
    co2 = reference[f"ALL/CO2_INTENSITY@{T0 + 200 * STEP}"]
    assert co2["x_demand"] == reading("SYSTEM_DEMAND", 200).value
    for seed in (1, 2, 3):
        assert run(shuffled(n, seed), batch=13) == reference


def test_a_dead_peer_feed_does_not_stall_the_others(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(features_stream, "MAX_BACKLOG", 10)
    # demand stops after 5 slots; wind and CO2 go on
    order = [reading(f, i) for i in range(60) for f in FIELDS if f != "SYSTEM_DEMAND" or i < 5]
    out = run(order)
    co2 = [k for k in out if k.startswith("ALL/CO2_INTENSITY@")]
    assert len(co2) >= 60 - 10 - 2  # all but the backlog the bound allows
    late = out[f"ALL/CO2_INTENSITY@{T0 + 30 * STEP}"]
    assert "x_demand" not in late  # released without its dead peer


def released_flags(
    settings: Settings, order: list[readings_pb2.CleanReading], wall_ms: list[int], monkeypatch
) -> dict[str, tuple[str, ...]]:  # type: ignore[no-untyped-def]
    """Feed ``order`` at the wall times ``wall_ms`` (one per reading), punctuating after each."""
    from gridstream.services.ml_preprocessor import service as ml_service

    processor = MlPreprocessor(settings)
    topic = repartition_topic(settings)
    view: StateView[FeatureSeries] = StateView(0)
    out: dict[str, tuple[str, ...]] = {}
    for offset, (clean, wall) in enumerate(zip(order, wall_ms, strict=True)):
        monkeypatch.setattr(ml_service, "_wall_ms", lambda wall=wall: wall)
        processor.process(InRecord(topic, 0, offset, "ALL", clean, clean.ts_ms), view)
        for record in processor.punctuate(wall, {0: view}):
            vector = record.value
            assert isinstance(vector, features_pb2.FeatureVector)
            out[f"{vector.series_id}@{vector.ts_ms}"] = tuple(vector.flags)
    return out


def test_the_wall_clock_releases_a_waiting_head_in_live_mode_only(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # CO2 and wind of slot 0 arrive; demand of slot 0 only after 10 minutes of wall time
    order = [reading("WIND_ACTUAL", 0), reading("CO2_INTENSITY", 0), reading("WIND_ACTUAL", 1)]
    order.append(reading("SYSTEM_DEMAND", 0))
    wall = [0, 1_000, 600_000, 601_000]
    key = f"ALL/CO2_INTENSITY@{T0}"
    replay = released_flags(Settings(), order, wall, monkeypatch)
    assert not any(f.startswith("peers_missing") for f in replay[key])  # waited for demand
    live = released_flags(Settings(clock="live"), order, wall, monkeypatch)
    assert "peers_missing=wall_clock" in live[key]


def test_a_head_released_by_the_backlog_bound_says_so(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(features_stream, "MAX_BACKLOG", 10)
    order = [reading(f, i) for i in range(30) for f in FIELDS if f != "SYSTEM_DEMAND" or i < 5]
    flags = released_flags(Settings(), order, [0] * len(order), monkeypatch)
    assert "peers_missing=backlog" in flags[f"ALL/CO2_INTENSITY@{T0 + 10 * STEP}"]
    assert not any("peers_missing" in f for f in flags[f"ALL/CO2_INTENSITY@{T0 + 2 * STEP}"])


def test_a_peer_slow_for_more_than_a_week_of_data_is_waited_for() -> None:
    # a hand-over: demand's partition stalls for ten days of data while wind and CO2 run on,
    # then demand's backlog arrives; the features are those of the lockstep order
    n, stall_from, stall_days = 1_400, 100, 10
    lockstep = [reading(f, i) for i in range(n) for f in FIELDS]
    resume = stall_from + stall_days * 96
    ahead = [
        reading(f, i) for i in range(n) for f in FIELDS if f != "SYSTEM_DEMAND" or i < stall_from
    ]
    ahead_part = [r for r in ahead if r.ts_ms < T0 + resume * STEP]
    rest = [r for r in lockstep if r.ts_ms >= T0 + resume * STEP]
    late_demand = [reading("SYSTEM_DEMAND", i) for i in range(stall_from, resume)]
    got = run(ahead_part + late_demand + rest, batch=50)
    assert len(got) == 3 * n
    assert got == run(lockstep, batch=50)


def test_a_peer_never_seen_is_waited_for_a_week_only(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(features_stream, "MAX_BACKLOG_UNSEEN", 10)
    order = [reading(f, i) for i in range(40) for f in FIELDS if f != "SYSTEM_DEMAND"]
    flags = released_flags(Settings(), order, [0] * len(order), monkeypatch)
    assert "peers_missing=backlog" in flags[f"ALL/CO2_INTENSITY@{T0}"]
    assert len([k for k in flags if k.startswith("ALL/CO2_INTENSITY@")]) >= 40 - 10 - 2
