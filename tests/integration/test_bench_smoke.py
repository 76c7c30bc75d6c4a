"""Smoke run of ``gridstream bench``: half a day of data, a short latency phase, shared broker.

Asserts the JSON shape and that the counts reconcile (raw = clean + dead letters + exact
duplicates); never timing thresholds (figures come from the benchmark command itself).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SMARTGRID = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "eirgrid"


def test_bench_smoke_json_shape_and_counts(kafka_bootstrap: str, tmp_path: Path) -> None:
    data = SMARTGRID / "smartgriddashboard"
    if not data.exists():
        pytest.skip(f"real data {data} is absent (../shared/data beside the repo)")
    cmd = [sys.executable, "-c", "from gridstream.cli import main; main()", "bench"]
    args = ["--days", "0.5", "--latency-seconds", "2", "--rate", "50", "--json"]
    args += ["--bootstrap", kafka_bootstrap, "--data", str(data), "--log-dir", str(tmp_path)]
    done = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, "stdout must hold only the JSON line"
    result = json.loads(lines[0])
    for key in ("readings_per_s", "ceiling_msgs_per_s", "ratio_to_broker_bound"):
        assert isinstance(result[key], int | float) and result[key] > 0, key
    for key in ("latency_ms_p50", "latency_ms_p99"):
        assert set(result[key]) == {"clean", "forecast", "anomaly", "action"}
    assert result["latency_samples"]["clean"] == result["latency_readings"] > 0
    services = set(result["stages"])
    assert {"smart-ingestor", "smart-preprocessor"} <= services
    assert set(result["peak_rss_mb"]) == services
    assert all(mb > 0 for mb in result["peak_rss_mb"].values())
    # every reading of the half day went through, and the counts reconcile
    assert result["raw_readings"] == result["expected_readings"] > 0
    dead = result["dead_letters"].get("smart-preprocessor", 0)
    assert result["raw_readings"] == (result["clean_readings"] + dead + result["exact_duplicates"])
    assert result["counts_reconcile"] is True
    assert result["topic_counts"]["preprocessed"] == result["clean_readings"]
    assert 1 <= result["hops"] <= 7
    # the latency phase waited at least one quiet window after the replay, within its bound
    assert 3.0 <= result["latency_settle_s"] <= 250
