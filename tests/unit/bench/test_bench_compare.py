"""``gridstream bench --baseline``: the before/after rows, and the files a run leaves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gridstream.bench.compare import (
    compare,
    service_cpu_ms_per_reading,
    streaming_cpu_ms_per_reading,
)
from gridstream.bench.latency import OUTPUTS
from gridstream.bench.processes import BROKER
from gridstream.bench.saved import load_result, save_result
from gridstream.errors import ConfigError


def _result(readings_per_s: float, cpu: dict[str, float], p99_action: float) -> dict[str, Any]:
    return {
        "readings_per_s": readings_per_s,
        "ratio_to_broker_bound": readings_per_s / 10_000,
        "raw_readings": 1000,
        "pipeline_cpu_s": cpu,
        "latency_ms_p99": {"forecast": 50.0, "action": p99_action},
        "peak_rss_mb": {"a": 120.0, "b": 250.5},
        "span": {"from": "2021-01-01", "to": "2021-01-02"},
        "latency_rate_per_s": 100.0,
    }


def test_service_cpu_per_reading_leaves_the_broker_out() -> None:
    result = _result(100.0, {"a": 0.3, "b": 0.2, BROKER: 5.0}, 100.0)
    assert service_cpu_ms_per_reading(result) == 0.5
    assert service_cpu_ms_per_reading({"raw_readings": 0, "pipeline_cpu_s": {}}) is None


def test_the_trainers_model_work_is_also_shown_apart() -> None:
    result = _result(100.0, {"a": 0.3, "smart-model-trainer": 0.7, BROKER: 5.0}, 100.0)
    assert streaming_cpu_ms_per_reading(result) is None  # a run without the figure
    result["trainer_model_cpu_s"] = 0.6
    assert service_cpu_ms_per_reading(result) == 1.0
    assert streaming_cpu_ms_per_reading(result) == 0.4


def test_rows_say_which_way_is_better() -> None:
    before = _result(1000.0, {"a": 3.0, "b": 1.0}, 400.0)
    after = _result(3000.0, {"a": 1.0, "b": 1.0}, 200.0)
    rows = {r.measure: r for r in compare(after, before)}
    assert rows["readings/s end to end"].factor == 3.0
    assert rows["readings/s end to end"].better is True
    assert rows["p99 reading→action ms"].factor == 0.5
    assert rows["p99 reading→action ms"].better is True  # lower latency is better
    assert rows["service CPU ms per reading"].before == 4.0
    assert rows["service CPU ms per reading"].after == 2.0
    assert rows["CPU s: a"].better is True
    assert rows["CPU s: b"].better is None  # unchanged
    assert rows["largest peak RSS MB"].after == 250.5


def test_a_run_writes_its_document_and_tables_with_the_comparison(tmp_path: Path) -> None:
    before = _result(1000.0, {"a": 3.0}, 400.0)
    after = _result(1500.0, {"a": 2.0}, 300.0)
    after["span"] = {"from": "2022-01-01", "to": "2022-01-02"}  # not the same data
    for key in ("latency_ms_p50", "latency_ms_p99", "latency_ms_max", "latency_samples"):
        after[key] = {stage: 300.0 for stage in OUTPUTS}
    after.update({"ceiling_msgs_per_s": 1.0, "hops": 1})
    after.update({"broker_bound_readings_per_s": 1.0, "pipeline_seconds": 1.0})
    after.update({"counts_reconcile": True, "load_avg": [1.0, 1.0]})
    save_result(after, tmp_path / "out", before)
    saved = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert saved["service_cpu_ms_per_reading"] == 2.0
    rows = {r["measure"]: r for r in saved["baseline"]["rows"]}
    assert rows["readings/s end to end"]["factor"] == 1.5
    assert saved["baseline"]["setup_differs"] == ["span"]
    text = (tmp_path / "out" / "bench.txt").read_text()
    assert "against the baseline" in text and "×1.5" in text
    assert load_result(tmp_path / "out" / "bench.json")["readings_per_s"] == 1500.0


def test_a_baseline_that_is_not_a_result_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not a readable JSON"):
        load_result(bad)
    bad.write_text('{"hello": 1}')
    with pytest.raises(ConfigError, match="no readings_per_s"):
        load_result(bad)
