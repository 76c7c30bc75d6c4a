"""Supervisor backoff, metric scraping, source choice and reading traces (no processes)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gridstream.errors import ConfigError
from gridstream.schemas import (
    anomaly_pb2,
    forecast_pb2,
    readings_pb2,
    rebalance_pb2,
    storage_pb2,
)
from gridstream.stack.probe import MetricTotals, RateTracker, ServiceProbe, parse_metrics
from gridstream.stack.source import (
    DEFAULT_REPLAY_SPEED,
    Pace,
    choose_pace,
    choose_source,
    recording_end,
)
from gridstream.stack.supervisor import backoff_s, last_error_line
from gridstream.stack.trace import build_trace, parse_record_id

METRICS = """# HELP gridstream_records_in_total Records consumed
# TYPE gridstream_records_in_total counter
gridstream_records_in_total{service="s",topic="a"} 10.0
gridstream_records_in_total{service="s",topic="b"} 5.0
# TYPE gridstream_consumer_lag gauge
gridstream_consumer_lag{service="s",topic="a",partition="0"} 3.0
gridstream_consumer_lag{service="s",topic="a",partition="1"} 4.0
# TYPE gridstream_dead_letters_total counter
gridstream_dead_letters_total{service="s",error_type="SerdeError"} 2.0
"""


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_s(n) for n in range(1, 6)] == [1, 2, 4, 8, 16]
    assert backoff_s(30) == 60


def test_last_error_line_names_the_exception(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("Traceback...\n  File x\nModuleNotFoundError: No module named 'y'\n\n")
    assert last_error_line(str(log)) == "ModuleNotFoundError: No module named 'y'"
    assert last_error_line(str(tmp_path / "missing.log")) == ""


def test_parse_metrics_sums_over_labels() -> None:
    totals = parse_metrics(METRICS)
    assert (totals.records_in, totals.lag, totals.dead_letters) == (15.0, 7.0, 2.0)
    assert totals.has_lag and not parse_metrics("").has_lag


def test_rate_is_the_difference_over_time() -> None:
    rates = RateTracker()
    first = ServiceProbe("s", "u", True, True, "ok", MetricTotals(records_in=100), at=10.0)
    second = ServiceProbe("s", "u", True, True, "ok", MetricTotals(records_in=160), at=12.0)
    assert rates.update(first).records_per_s is None
    assert rates.update(second).records_per_s == 30.0


def test_auto_prefers_live_then_replay_then_simulation(tmp_path: Path) -> None:
    data = tmp_path / "eirgrid" / "ALL"
    assert choose_source("auto", data, lambda: None).kind == "live"
    empty = choose_source("auto", data, lambda: "no answer")
    assert empty.kind == "simulate" and "no answer" in empty.reason
    data.mkdir(parents=True)
    (data / "ALL_demandactual_22_Eirgrid.csv.gz").write_bytes(b"")
    replay = choose_source("auto", data.parent, lambda: "no answer")
    assert replay.kind == "replay" and replay.path == data.parent.resolve()
    assert "recorded data found" in replay.reason


def test_explicit_sources_and_their_environment(tmp_path: Path) -> None:
    choice = choose_source(f"replay:{tmp_path}", tmp_path / "x", lambda: None)
    assert choice.env(Pace()) == {
        "GRIDSTREAM_INGEST_SOURCE": "replay",
        "GRIDSTREAM_INGEST_REPLAY_PATH": str(tmp_path.resolve()),
    }
    simulate = choose_source("simulate", tmp_path, lambda: None)
    assert simulate.env(choose_pace(simulate, "60", None, _no_end))["GRIDSTREAM_INGEST_SPEED"] == (
        "60.0"
    )
    with pytest.raises(ConfigError, match="does not exist"):
        choose_source(f"replay:{tmp_path / 'nope'}", tmp_path, lambda: None)
    with pytest.raises(ConfigError, match="choose auto"):
        choose_source("kafka", tmp_path, lambda: None)


END = dt.datetime(2022, 12, 31, 23, 45, tzinfo=dt.UTC)


def _no_end() -> dt.datetime:
    raise AssertionError("the recording's end is not needed here")


def test_a_replay_plays_the_latest_two_weeks_at_a_watchable_pace(tmp_path: Path) -> None:
    replay = choose_source(f"replay:{tmp_path}", tmp_path, lambda: None)
    pace = choose_pace(replay, None, None, lambda: END)
    assert pace.speed == DEFAULT_REPLAY_SPEED == 300.0  # a quarter-hour every 3 s
    assert pace.start == dt.datetime(2022, 12, 17, tzinfo=dt.UTC)
    assert pace.warmup_days == 7.0
    env = replay.env(pace)
    assert env["GRIDSTREAM_INGEST_REPLAY_FROM"] == "2022-12-17T00:00:00+00:00"
    assert env["GRIDSTREAM_INGEST_SPEED"] == "300.0"
    assert "×300" in pace.describe() and "17 Dec 2022" in pace.describe()


def test_from_and_speed_choose_another_start_and_pace(tmp_path: Path) -> None:
    replay = choose_source(f"replay:{tmp_path}", tmp_path, lambda: None)
    chosen = choose_pace(replay, "60", "2022-12-03", lambda: END)
    assert (chosen.speed, chosen.start) == (60.0, dt.datetime(2022, 12, 3, tzinfo=dt.UTC))
    # --speed max alone floods the whole recording; with --from it floods from there
    assert choose_pace(replay, "max", None, _no_end) == Pace(None)
    flood = choose_pace(replay, "MAX", "2022-06-01T12:00", lambda: END)
    assert flood.speed is None and flood.start == dt.datetime(2022, 6, 1, 12, tzinfo=dt.UTC)
    assert "GRIDSTREAM_INGEST_SPEED" not in replay.env(flood)
    with pytest.raises(ConfigError, match="recording ends"):
        choose_pace(replay, None, "2023-01-02", lambda: END)
    with pytest.raises(ConfigError, match="give a date"):
        choose_pace(replay, None, "next tuesday", lambda: END)
    with pytest.raises(ConfigError, match="give a factor"):
        choose_pace(replay, "fast", None, lambda: END)
    simulate = choose_source("simulate", tmp_path, lambda: None)
    with pytest.raises(ConfigError, match="--from is for replays"):
        choose_pace(simulate, None, "2022-12-03", _no_end)
    assert choose_pace(simulate, None, None, _no_end) == Pace(None)


def test_recording_end_is_the_latest_reading(tmp_path: Path) -> None:
    folder = tmp_path / "ALL"
    folder.mkdir()
    (folder / "ALL_demandactual_21_Eirgrid.csv").write_text(
        "31-Dec-2021 23:45:00,SYSTEM_DEMAND,ALL,4000\n"
    )
    (folder / "ALL_demandactual_22_Eirgrid.csv").write_text(
        "01-Mar-2022 00:00:00,SYSTEM_DEMAND,ALL,4100\n02-Mar-2022 10:30:00,SYSTEM_DEMAND,ALL,4200\n"
    )
    assert recording_end(tmp_path) == dt.datetime(2022, 3, 2, 10, 30, tzinfo=dt.UTC)  # GMT


def test_record_ids_are_checked() -> None:
    assert parse_record_id("ALL/SYSTEM_DEMAND@123") == ("ALL/SYSTEM_DEMAND", 123)
    with pytest.raises(ConfigError, match="not a record id"):
        parse_record_id("SYSTEM_DEMAND-123")


def test_trace_follows_a_reading_to_the_action_it_fed() -> None:
    rid, other = "ALL/SYSTEM_DEMAND@900", "ALL/SYSTEM_DEMAND@1800"
    base = {"series_id": "ALL/SYSTEM_DEMAND", "region": "ALL", "field": "SYSTEM_DEMAND"}
    raw = [
        readings_pb2.RawReading(record_id=r, ts_ms=int(r.split("@")[1]), **base)
        for r in (rid, other)
    ]
    clean = [readings_pb2.CleanReading(record_id=rid, ts_ms=900, **base)]
    fc = [
        forecast_pb2.Forecast(forecast_id=rid, issue_time_ms=900, **base),
        forecast_pb2.Forecast(forecast_id=other, issue_time_ms=1800, **base),
    ]
    an = [anomaly_pb2.Anomaly(record_id=rid, ts_ms=900, is_anomaly=True, **base)]
    sch = [
        storage_pb2.StorageSchedule(schedule_id="s1", forecast_ids=[rid]),
        storage_pb2.StorageSchedule(schedule_id="s2", forecast_ids=[other]),
    ]
    acts = [
        rebalance_pb2.RebalanceAction(action_id="a1", evidence=["s1"]),
        rebalance_pb2.RebalanceAction(action_id="a2", evidence=["s2"]),
    ]
    steps = build_trace(rid, raw, clean, [], fc, an, [], sch, acts).steps
    assert [r["record_id"] for r in steps["raw"]] == [rid]
    assert [f["forecast_id"] for f in steps["forecasts"]] == [rid]
    assert [s["schedule_id"] for s in steps["schedules"]] == ["s1"]
    assert [a["action_id"] for a in steps["actions"]] == ["a1"]
    assert len(steps["anomalies"]) == 1 and steps["features"] == []


def test_a_stopped_local_broker_is_reset_and_the_pipeline_yields_to_the_dashboard(
    tmp_path: Path,
) -> None:
    import os
    import subprocess

    from gridstream.broker.cluster import LocalCluster
    from gridstream.stack.supervisor import (
        BATCH_NICENESS,
        BATCH_SERVICES,
        lower_group_priority,
        lower_priority,
    )

    cluster = LocalCluster(tmp_path / "broker")
    (tmp_path / "broker" / "node-1" / "logs").mkdir(parents=True)
    assert cluster.reset() is True
    assert not (tmp_path / "broker" / "node-1").exists()
    assert cluster.reset() is False  # nothing left to clear

    assert "dashboard" not in BATCH_SERVICES and "smart-storage-optimizer" in BATCH_SERVICES
    group = tmp_path / "autogroup"
    group.write_text("/autogroup-1 nice 0\n")
    assert lower_group_priority(group) and group.read_text() == str(BATCH_NICENESS)
    assert not lower_group_priority(tmp_path / "absent" / "autogroup")  # no autogroups: fine
    child = subprocess.Popen(["sleep", "30"])
    try:
        before = os.getpriority(os.PRIO_PROCESS, child.pid)
        lower_priority(child.pid)
        assert os.getpriority(os.PRIO_PROCESS, child.pid) == min(19, before + BATCH_NICENESS)
    finally:
        child.kill()
        child.wait()
