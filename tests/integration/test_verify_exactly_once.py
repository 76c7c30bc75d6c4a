"""``gridstream verify`` scenarios, shortened: real data, real brokers, real SIGKILLs.

Each test starts its own temporary broker (the verification is self-contained: it must be
able to restart or kill brokers), replays one day of recorded all-island data twice through
all nine services and compares every output topic of the clean and the faulty run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gridstream.verify.pipeline import resolve_services

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "eirgrid"

#: the output topics of all nine services (see gridstream/verify/pipeline.py)
NINE_TOPICS = (
    "raw",
    "preprocessed",
    "ml_ready",
    "model_updates",
    "forecasts",
    "anomalies",
    "alerts",
    "storage",
    "rebalance",
)


def assert_nothing_lost(report: dict[str, Any]) -> None:
    """Every topic of the whole pipeline the same, record for record, in both runs."""
    topics = report["topics"]
    assert report["expected"] > 0
    assert len(report["services"]) == 9, report["services"]
    for name in NINE_TOPICS:
        assert name in topics, (name, sorted(topics))
    for name, t in topics.items():
        assert (t["lost"], t["duplicated"], t["unexpected"], t["differing"]) == (0, 0, 0, 0), (
            name,
            t,
        )
    for name in ("forecasts", "anomalies", "storage"):
        assert topics[name]["expected"] > 0, (name, topics[name])
    assert report["lost"] == 0 and report["duplicated"] == 0 and report["unexpected"] == 0
    assert report["differing"] == 0 and report["ok"]


def run_cli(*args: str) -> tuple[int, dict[str, Any]]:
    """``gridstream verify exactly-once ... --json``: exit code and the last stdout line."""
    if not DATA.exists():
        pytest.skip(f"real data {DATA} is absent (../shared/data beside the repo)")
    cmd = [sys.executable, "-c", "from gridstream.cli import main; main()", "verify"]
    proc = subprocess.Popen(
        [*cmd, "exactly-once", "--data", str(DATA), *args, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=480)
    except subprocess.TimeoutExpired:
        proc.terminate()  # SIGTERM: the command stops its services and broker
        stdout, stderr = proc.communicate(timeout=120)
        pytest.fail(f"verify did not finish in 480 s; stderr tail:\n{stderr[-3000:]}")
    lines = stdout.strip().splitlines()
    assert lines, stderr[-3000:]
    return proc.returncode, json.loads(lines[-1])


def test_sigkills_lose_and_duplicate_nothing() -> None:
    code, report = run_cli("--kills", "2", "--seed", "7", "--days", "1", "--replay-seconds", "15")
    assert_nothing_lost(report)
    faulty = report["faulty_run"]
    assert faulty["settled"]
    assert [f["kind"] for f in faulty["faults"]] == ["kill", "kill"]
    assert sum(p["kills"] for p in faulty["processes"].values()) == 2
    assert report["topics"]["raw"]["expected"] == report["data"]["rows"]
    assert report["services"] == list(resolve_services(None))
    assert code == (0 if report["ok"] else 1)


def test_a_broker_restart_loses_and_duplicates_nothing() -> None:
    args = ("--kills", "0", "--broker-restart", "--seed", "7", "--days", "1")
    code, report = run_cli(*args, "--replay-seconds", "15")
    assert_nothing_lost(report)
    faulty = report["faulty_run"]
    assert faulty["settled"]
    assert [f["kind"] for f in faulty["faults"]] == ["broker-restart"]
    # the services reconnected by themselves: none had to be restarted
    assert all(p["crashes"] == 0 for p in faulty["processes"].values()), faulty["processes"]
    assert code == (0 if report["ok"] else 1)
