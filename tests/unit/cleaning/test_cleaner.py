"""The cleaner on synthetic cases and on known real events in the recorded data."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridstream.core.cleaning import Cleaner, InvalidReading, SeriesState
from gridstream.errors import ValidationError
from gridstream.schemas import common_pb2, readings_pb2
from gridstream.sources.recorded import list_files, read_frame
from gridstream.sources.records import make_raw_reading
from gridstream.sources.replay import iter_recorded

RECORDED = (
    Path(__file__).resolve().parents[3]
    / ".."
    / "shared"
    / "data"
    / "eirgrid"
    / ("smartgriddashboard")
)
Q = 900_000
T0 = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
F = common_pb2


def raw(field: str, ts: int, value: float | None, region: str = "ALL") -> readings_pb2.RawReading:
    return make_raw_reading(region=region, field=field, ts_ms=ts, value=value, source="test")


def run(readings: list[readings_pb2.RawReading]) -> list[readings_pb2.CleanReading]:
    cleaner, state, out = Cleaner(), SeriesState(), []
    for r in readings:
        out.extend(cleaner.process(r, state))
    return out


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("SYSTEM_DEMAND", 10_001.0, "out_of_range"),
        ("SYSTEM_DEMAND", -1.0, "out_of_range"),
        ("CO2_INTENSITY", 1_600.0, "out_of_range"),
        ("SNSP_ALL", 101.0, "out_of_range"),
        ("WIND_ACTUAL", -500.0, "out_of_range"),
        ("SYSTEM_DEMAND", float("nan"), "not_finite"),
        ("MYSTERY", 1.0, "unknown_field"),
        ("SYSTEM_DEMAND", None, "null_value"),
    ],
)
def test_invalid_readings_raise_with_reason(field: str, value: float | None, reason: str) -> None:
    with pytest.raises(ValidationError) as info:
        Cleaner().process(raw(field, T0, value), SeriesState())
    assert isinstance(info.value, InvalidReading) and info.value.reason == reason


def test_signed_flows_and_small_negative_wind_pass() -> None:
    assert run([raw("INTER_EWIC", T0, -480.0, "ROI")])[0].value == -480.0
    assert run([raw("WIND_ACTUAL", T0, -11.0, "NI")])[0].value == -11.0


def test_unit_mismatch_rejected() -> None:
    reading = raw("SYSTEM_DEMAND", T0, 3000.0)
    reading.unit = "kW"
    with pytest.raises(InvalidReading, match="unit_mismatch"):
        Cleaner().process(reading, SeriesState())


def test_duplicates_conflicts_gaps_offgrid_and_late() -> None:
    out = run(
        [
            raw("SYSTEM_DEMAND", T0, 3000.0),
            raw("SYSTEM_DEMAND", T0, 3000.0),  # exact duplicate: suppressed
            raw("SYSTEM_DEMAND", T0 + Q + 20_000, 3050.0),  # 20 s off the grid
            raw("SYSTEM_DEMAND", T0 + Q, 3060.0),  # conflicting value for the same slot
            raw("SYSTEM_DEMAND", T0 + 4 * Q, 3100.0),  # two slots missing
            raw("SYSTEM_DEMAND", T0 + 3 * Q, 3090.0),  # one of them arrives late
        ]
    )
    assert [c.ts_ms - T0 for c in out] == [0, Q, Q, 4 * Q, 3 * Q]
    assert list(out[1].flags) == [F.QUALITY_FLAG_OFF_GRID]
    assert list(out[2].flags) == [F.QUALITY_FLAG_DUPLICATE_CONFLICT] and out[2].value == 3060.0
    assert list(out[3].flags) == [F.QUALITY_FLAG_GAP_BEFORE] and out[3].gap_before_ms == 2 * Q
    assert list(out[4].flags) == [F.QUALITY_FLAG_LATE]
    assert out[2].record_id == out[1].record_id == f"ALL/SYSTEM_DEMAND@{T0 + Q}"


def test_stuck_after_n_intervals_and_spike() -> None:
    values = [3000.0 + 40 * (i % 3) for i in range(20)] + [3100.0] * 10 + [4500.0]
    out = run([raw("SYSTEM_DEMAND", T0 + i * Q, v) for i, v in enumerate(values)])
    stuck = [i for i, c in enumerate(out) if F.QUALITY_FLAG_STUCK in c.flags]
    assert stuck == list(range(24, 30))  # the 5th equal value (an hour held) onwards
    assert out[29].stuck_intervals == 10
    assert F.QUALITY_FLAG_SPIKE in out[30].flags
    assert not any(F.QUALITY_FLAG_SPIKE in c.flags for c in out[:30])


def _stuck_at(out: list[readings_pb2.CleanReading]) -> list[int]:
    return [i for i, c in enumerate(out) if F.QUALITY_FLAG_STUCK in c.flags]


def test_interconnector_meter_offset_is_stuck_after_an_hour() -> None:
    # a link carrying power, then reading 3 MW: flagged from the fifth 3 MW reading (an hour)
    values = [400.0, 410.0, 405.0] + [3.0] * 8
    out = run([raw("INTER_EWIC", T0 + i * Q, v, region="ROI") for i, v in enumerate(values)])
    assert _stuck_at(out) == list(range(7, 11))
    assert out[7].stuck_intervals == 5
    # a held scheduled flow or a held zero is not an offset: only the day rule applies to it
    for held in (450.0, 0.0):
        out = run([raw("INTER_EWIC", T0 + i * Q, held, region="ROI") for i in range(40)])
        assert _stuck_at(out) == [], held
    # the same 3 MW on demand is just a (very low) held value: no band there
    assert not any(
        F.QUALITY_FLAG_STUCK in c.flags
        for c in run([raw("WIND_ACTUAL", T0 + i * Q, 3.0 + i % 2) for i in range(20)])
    )


def test_meter_offset_stretch_ends_only_after_an_hour_of_flow() -> None:
    # offset, wobbles (other offsets, zero, one short burst of flow), then an hour of flow
    values = [3.0] * 5 + [1.0, 0.0, 3.0, 250.0, 240.0, 1.0] + [300.0, 310.0, 320.0, 330.0, 335.0]
    out = run([raw("INTER_MOYLE", T0 + i * Q, v, region="NI") for i, v in enumerate(values)])
    # stuck from the 5th reading until the fourth reading of real flow ends the stretch
    assert _stuck_at(out) == list(range(4, 14))
    assert out[13].stuck_intervals == 14


def test_meter_offset_flags_survive_a_restart_before_every_reading() -> None:
    values = [500.0, 3.0, 3.0, 3.0, 3.0, 3.0, 0.0, 2.0, 600.0, 610.0, 620.0, 630.0, 640.0]
    readings = [raw("INTER_EWIC", T0 + i * Q, v, region="ROI") for i, v in enumerate(values)]
    cleaner, state, restarted = Cleaner(), SeriesState(), []
    for r in readings:
        state = SeriesState.from_bytes(state.to_bytes())
        restarted.extend(cleaner.process(r, state))
    assert restarted == run(readings)
    assert _stuck_at(restarted) == list(range(5, 11))


@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 9000)), max_size=60))
def test_state_roundtrip_gives_identical_results(events: list[tuple[int, int]]) -> None:
    readings = [raw("GEN_EXP", T0 + k * Q, float(v)) for k, v in events]
    cleaner, straight, out_a = Cleaner(), SeriesState(), []
    for r in readings:
        out_a.extend(cleaner.process(r, straight))
    state, out_b = SeriesState(), []
    for r in readings:  # a restart before every record
        state = SeriesState.from_bytes(state.to_bytes())
        out_b.extend(cleaner.process(r, state))
    assert out_a == out_b
    assert len({c.ts_ms for c in out_a}) == len({r.ts_ms for r in readings})


def _clean_recorded(files: list[Path]) -> dict[str, list[readings_pb2.CleanReading]]:
    cleaner = Cleaner()
    states: dict[str, SeriesState] = defaultdict(SeriesState)
    out: dict[str, list[readings_pb2.CleanReading]] = defaultdict(list)
    for r in iter_recorded(files):
        out[r.series_id].extend(cleaner.process(r, states[r.series_id]))
    return out


def _flagged(readings: list[readings_pb2.CleanReading], flag: int) -> list[int]:
    return [c.ts_ms for c in readings if flag in c.flags]


def _ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def test_real_sep_2020_freeze_is_flagged_and_clean_count_matches_unique_rows() -> None:
    if not RECORDED.exists():
        pytest.skip(f"real data {RECORDED} is absent")
    files = list_files(
        RECORDED, regions=["ALL"], areas=["demandactual", "windactual"], years=[2020]
    )
    out = _clean_recorded(files)
    assert sum(len(v) for v in out.values()) == len(read_frame(files))  # duplicates once
    for series in ("ALL/SYSTEM_DEMAND", "ALL/WIND_ACTUAL"):
        stuck = _flagged(out[series], F.QUALITY_FLAG_STUCK)
        in_event = [t for t in stuck if _ms(2020, 9, 9, 19) <= t <= _ms(2020, 9, 10, 3)]
        assert len(in_event) >= 10, series
        # rare elsewhere: the shorter freezes of 14, 15 and 23 Sep (and 29 Apr for demand)
        assert len(stuck) - len(in_event) < 20, series
    spikes = _flagged(out["ALL/SYSTEM_DEMAND"], F.QUALITY_FLAG_SPIKE)
    assert any(_ms(2020, 6, 11, 14) <= t <= _ms(2020, 6, 11, 16) for t in spikes)


def test_real_ewic_flatline_2022_is_flagged() -> None:
    if not RECORDED.exists():
        pytest.skip(f"real data {RECORDED} is absent")
    files = list_files(RECORDED, regions=["ROI"], areas=["interconnection"], years=[2022])
    out = _clean_recorded(files)["ROI/INTER_EWIC"]
    window = [c for c in out if _ms(2022, 3, 28) <= c.ts_ms < _ms(2022, 4, 19)]
    assert window and all(c.value == 3.0 for c in window)
    assert all(F.QUALITY_FLAG_STUCK in c.flags for c in window)
    assert min(c.stuck_intervals for c in window) > 96
