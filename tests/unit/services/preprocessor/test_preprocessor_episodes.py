"""The preprocessor reports a stuck feed once when it starts and once when it ends: for an
identical value held, and for an interconnector held at a meter offset."""

from __future__ import annotations

from gridstream.bus.processor import InRecord
from gridstream.bus.state import StateView
from gridstream.config import Settings
from gridstream.schemas import alert_pb2
from gridstream.services.preprocessor.service import Preprocessor
from gridstream.sources.records import make_raw_reading

T0 = 1_647_216_000_000  # 2022-03-14 00:00 UTC
Q = 900_000


def events(region: str, field: str, values: list[float]) -> list[tuple[int, str, str]]:
    settings = Settings()
    processor = Preprocessor(settings)
    view: StateView[object] = StateView(0)
    out = []
    for i, value in enumerate(values):
        raw = make_raw_reading(region=region, field=field, ts_ms=T0 + i * Q, value=value)
        record = InRecord(settings.topics.raw, 0, i, raw.series_id, raw, raw.ts_ms)
        for rec in processor.process(record, view):  # type: ignore[arg-type]
            if rec.topic == settings.topics.system_events:
                assert isinstance(rec.value, alert_pb2.SystemEvent)
                out.append((i, rec.value.kind, rec.value.labels.get("intervals", "")))
    return out


def test_meter_offset_episode_starts_after_an_hour_and_ends_after_an_hour_of_flow() -> None:
    values = [420.0, 3.0, 3.0, 3.0, 3.0, 3.0, 0.0, 1.0, 300.0, 290.0, 280.0, 270.0, 260.0]
    assert events("ROI", "INTER_EWIC", values) == [
        (5, "feed_stuck", "5"),
        (11, "feed_recovered", "10"),
    ]


def test_a_held_demand_value_is_one_episode() -> None:
    values = [4000.0, 4100.0] + [4200.0] * 6 + [4300.0]
    assert events("ALL", "SYSTEM_DEMAND", values) == [
        (6, "feed_stuck", "5"),
        (8, "feed_recovered", "6"),
    ]


def test_a_scheduled_interconnector_flow_held_for_hours_is_no_episode() -> None:
    assert events("NI", "INTER_MOYLE", [250.0] * 48 + [0.0] * 48) == []
