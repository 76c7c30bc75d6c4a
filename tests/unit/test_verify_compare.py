"""Unit tests of the verify comparison, identities, fault plans and data slices."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import pytest

from gridstream.schemas import dead_letter_pb2, readings_pb2, storage_pb2
from gridstream.verify.compare import compare_runs, compare_topic
from gridstream.verify.data_slice import write_slice
from gridstream.verify.faults import plan_faults
from gridstream.verify.identity import identify, message_class
from gridstream.verify.scale_out import assignments


def raw(ts: int, value: float, ingested: int) -> readings_pb2.RawReading:
    return readings_pb2.RawReading(
        record_id=f"ALL/SYSTEM_DEMAND@{ts}", ts_ms=ts, value=value, ingested_at_ms=ingested
    )


def test_wall_clock_stamps_do_not_count_as_differences() -> None:
    assert identify(raw(1, 5.0, 100)) == identify(raw(1, 5.0, 999))
    assert identify(raw(1, 5.0, 100))[1] != identify(raw(1, 6.0, 100))[1]
    a = storage_pb2.StorageSchedule(schedule_id="s1", solve_ms=3.0, objective_value=1.0)
    b = storage_pb2.StorageSchedule(schedule_id="s1", solve_ms=9.0, objective_value=1.0)
    assert identify(a) == identify(b)


def test_dead_letters_compare_without_offsets_and_run_prefix() -> None:
    def letter(prefix: str, offset: int) -> dead_letter_pb2.DeadLetter:
        return dead_letter_pb2.DeadLetter(
            service="smart-preprocessor",
            reason="bad",
            source_topic=f"{prefix}raw_energy_data",
            source_offset=offset,
            original_key=b"ALL/X",
            original_value=b"\x01",
            failed_at_ms=offset * 7,
        )

    assert identify(letter("a-", 3), "a-") == identify(letter("b-", 11), "b-")


def test_compare_counts_lost_duplicated_unexpected_and_differing() -> None:
    clean = [identify(raw(t, float(t), 0)) for t in range(5)]
    faulty = [
        identify(raw(0, 0.0, 1)),  # same
        identify(raw(1, 1.0, 2)),
        identify(raw(1, 1.0, 3)),  # duplicate
        identify(raw(2, 99.0, 0)),  # differing value
        identify(raw(3, 3.0, 0)),  # 4 lost
        identify(raw(7, 7.0, 0)),  # unexpected
    ]
    diff = compare_topic(clean, faulty)
    assert (diff.expected, diff.actual) == (5, 6)
    assert (diff.lost, diff.duplicated, diff.unexpected, diff.differing) == (1, 1, 1, 1)
    assert not diff.ok
    assert compare_topic(clean, list(reversed(clean))).ok  # order across keys is free


def test_summary_totals_and_topics() -> None:
    clean = {"raw": [identify(raw(1, 1.0, 0))], "preprocessed": [identify(raw(2, 2.0, 0))]}
    summary = compare_runs(clean, {"raw": clean["raw"]}).summary()
    assert summary["expected"] == 2 and summary["lost"] == 1 and not summary["ok"]
    assert summary["topics"]["preprocessed"]["lost"] == 1
    assert summary["topics"]["raw"]["lost"] == 0


def test_message_class_resolves_every_topic_type() -> None:
    from gridstream.bus.topics import MESSAGE_TYPES

    for full_name in MESSAGE_TYPES.values():
        assert message_class(full_name).DESCRIPTOR.full_name == full_name


def test_fault_plan_is_seeded_and_inside_the_window() -> None:
    services = ("smart-ingestor", "smart-preprocessor")
    plan = plan_faults(services, 5, 100.0, seed=4, broker_restart=True)
    assert plan == plan_faults(services, 5, 100.0, seed=4, broker_restart=True)
    assert [f.at_s for f in plan] == sorted(f.at_s for f in plan)
    assert all(10.0 <= f.at_s <= 90.0 for f in plan)
    assert sum(f.kind == "kill" for f in plan) == 5
    assert [f.kind for f in plan].count("broker-restart") == 1


def test_slice_keeps_only_the_days_asked_for(tmp_path: Path) -> None:
    src = tmp_path / "src" / "ALL"
    src.mkdir(parents=True)
    lines = [
        "31-Aug-2021 23:45:00,SYSTEM_DEMAND,ALL,1\n",
        "01-Sep-2021 00:00:00,SYSTEM_DEMAND,ALL,2\n",
        "01-Sep-2021 00:00:00,SYSTEM_DEMAND,ALL,2\n",
        "02-Sep-2021 00:00:00,SYSTEM_DEMAND,ALL,\n",
        "03-Sep-2021 00:00:00,SYSTEM_DEMAND,ALL,4\n",
    ]
    with gzip.open(src / "ALL_demandactual_21_Eirgrid.csv.gz", "wt") as fh:
        fh.writelines(lines)
    sliced = write_slice(tmp_path / "src", tmp_path / "out", date(2021, 9, 1), 2)
    with gzip.open(tmp_path / "out" / "ALL" / "ALL_demandactual_21_Eirgrid.csv.gz", "rt") as fh:
        assert fh.readlines() == lines[1:4]
    assert sliced.rows == 3 and sliced.span_s == 2 * 86_400


def test_slice_without_rows_is_a_clear_error(tmp_path: Path) -> None:
    from gridstream.errors import ConfigError

    with pytest.raises(ConfigError, match="no recorded EirGrid files"):
        write_slice(tmp_path, tmp_path / "out", date(2021, 9, 1), 2)


def test_assignments_are_read_from_the_runner_log() -> None:
    text = (
        "2026 INFO gridstream.bus.runner: smart-preprocessor assigned raw[0], raw[1], raw[2]\n"
        "2026 INFO gridstream.bus.runner: smart-preprocessor assigned raw[2]\n"
        "2026 INFO gridstream.bus.runner: smart-alert-engine assigned a[0]\n"
    )
    assert assignments(text, "smart-preprocessor") == [["raw[0]", "raw[1]", "raw[2]"], ["raw[2]"]]
