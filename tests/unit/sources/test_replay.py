"""Replay of recorded files: order across files, DST days, duplicates, pacing, watermarks."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from gridstream.sources.pacing import Pacer, paced
from gridstream.sources.recorded import list_files, read_frame, read_raw
from gridstream.sources.replay import iter_recorded
from gridstream.sources.watermark import Watermarks

from .conftest import RECORDED, need


def _files(region: str, areas: list[str], year: int) -> list[Path]:
    return list_files(need(RECORDED), regions=[region], areas=areas, years=[year])


def _day_ms(y: int, m: int, d: int) -> tuple[int, int]:
    start = datetime(y, m, d, tzinfo=UTC)
    return int(start.timestamp() * 1000), int(start.timestamp() * 1000) + 86_400_000


def test_replay_is_time_ordered_across_files_and_keeps_every_non_null_row() -> None:
    files = _files("NI", ["demandactual", "windactual", "co2intensity"], 2022)
    assert len(files) == 3  # the co2 file name has a digit in its area
    readings = list(iter_recorded(files))
    stamps = [r.ts_ms for r in readings]
    assert stamps == sorted(stamps)
    non_null = sum(int(read_raw(p)["value"].notna().sum()) for p in files)
    spring_gap_rows = 0  # the spring DST rows 01:00-01:45 are null in the files
    assert len(readings) == non_null - spring_gap_rows
    unique = read_frame(files)
    assert len({r.record_id for r in readings}) == len(unique)


def test_monthly_duplicate_rows_are_adjacent_and_identical() -> None:
    files = _files("ALL", ["demandactual"], 2022)
    readings = list(iter_recorded(files))
    counts = Counter(r.record_id for r in readings)
    dup_ids = {rid for rid, n in counts.items() if n > 1}
    # 11 month starts (Feb..Dec) x 88 quarter-hours 00:00-21:45 appear twice
    assert len(dup_ids) == 11 * 88
    for a, b in itertools.pairwise(readings):
        if a.record_id == b.record_id:
            assert a.value == b.value


def test_dst_days_in_recorded_data() -> None:
    files = _files("ALL", ["demandactual"], 2022)
    readings = list(iter_recorded(files))
    spring = _day_ms(2022, 3, 27)
    autumn = _day_ms(2022, 10, 30)
    # local day boundaries: spring day runs 00:00 GMT .. 23:00 UTC, autumn 23:00 UTC .. 00:00
    spring_ids = {r.ts_ms for r in readings if spring[0] <= r.ts_ms < spring[1] - 3_600_000}
    autumn_ids = {r.ts_ms for r in readings if autumn[0] - 3_600_000 <= r.ts_ms < autumn[1]}
    assert len(spring_ids) == 92  # the spring local day has 23 hours
    # the autumn local day has 25 hours (100 slots) but the files hold the repeated hour once
    assert len(autumn_ids) == 96
    slots = (autumn[1] - (autumn[0] - 3_600_000)) // 900_000
    assert slots == 100
    missing = sorted(set(range(autumn[0] - 3_600_000, autumn[1], 900_000)) - autumn_ids)
    assert [datetime.fromtimestamp(t / 1000, UTC).strftime("%H:%M") for t in missing] == [
        "01:00",
        "01:15",
        "01:30",
        "01:45",  # the winter-time repeat is what is missing
    ]


def test_pacer_speed_and_max() -> None:
    now = [100.0]
    pacer = Pacer(60.0, clock=lambda: now[0])
    assert pacer.delay_s(0) == 0.0
    assert pacer.delay_s(60_000) == 1.0  # one data minute at 60x is one wall second
    now[0] = 100.5
    assert pacer.delay_s(60_000) == 0.5
    assert Pacer(None).delay_s(10**12) == 0.0
    files = _files("ALL", ["SnspALL"], 2022)
    slept: list[float] = []
    first_hours = [r for r, _ in zip(iter_recorded(files), range(5), strict=False)]
    out = list(paced(first_hours, 1800.0, clock=lambda: 0.0, sleep=slept.append))
    assert len(out) == 5 and slept == [1.0, 2.0, 3.0, 4.0]  # 30 min steps at 1800x


def test_watermarks_resume_without_gaps_or_resends(tmp_path: Path) -> None:
    files = _files("ROI", ["windactual"], 2022)
    readings = list(iter_recorded(files))[:500]
    marks = Watermarks()
    sent = []
    for r in readings[:200]:
        if marks.is_new(r):
            sent.append(r)
            marks.advance(r)
    marks.save(tmp_path / "wm.json")
    restored = Watermarks.load(tmp_path / "wm.json")
    for r in readings:  # a restart re-reads everything
        if restored.is_new(r):
            sent.append(r)
            restored.advance(r)
    ids = [r.record_id for r in sent]
    assert len(ids) == len(set(ids)) == len({r.record_id for r in readings})
    assert Watermarks.load(tmp_path / "absent.json").as_dict() == {}
