"""`gridstream up --source replay:<one week> --speed max` on the real broker, then `down`.

Every service must become ready, records must reach every pipeline topic, `status` must
report each service, and `down` must leave no process behind. The week of real data is cut
from ../shared/data into a temporary directory (nothing is copied into the repository).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(1200)]

REPO = Path(__file__).resolve().parents[2]
RECORDED = REPO / ".." / "shared" / "data" / "eirgrid" / "smartgriddashboard"
AREAS = ("demandactual", "windactual", "generationactual", "co2intensity", "co2emission", "SnspALL")
WEEK = tuple(f"{d:02d}-Jul-2022" for d in range(1, 8))
# model updates, forecasts, schedules, actions and alerts all follow from a week of readings
EXPECTED_TOPICS = (
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


def one_week(target: Path) -> Path:
    """1-7 July 2022 of every recorded area of the island (ALL), in the recorded layout."""
    if not RECORDED.exists():
        pytest.skip(f"real data not available: {RECORDED} is missing")
    out = target / "ALL"
    out.mkdir(parents=True)
    for area in AREAS:
        source = RECORDED / "ALL" / f"ALL_{area}_22_Eirgrid.csv.gz"
        with gzip.open(source, "rt") as fh:
            rows = [line for line in fh if line.startswith(WEEK)]
        assert rows, f"no July 2022 rows in {source}"
        (out / f"ALL_{area}_22_Eirgrid.csv").write_text("".join(rows))
    return target


def free_offset() -> int:
    from gridstream.broker.ports import free_offset as offset
    from gridstream.config import SERVICE_PORTS

    return offset(SERVICE_PORTS.values())


def gridstream(
    env: dict[str, str], *args: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from gridstream.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


def test_up_runs_the_pipeline_and_down_leaves_nothing(kafka_bootstrap: str, tmp_path: Path) -> None:
    from gridstream.bus.admin import Admin
    from gridstream.bus.reader import CommittedCounter
    from gridstream.bus.settings import KafkaSettings
    from gridstream.bus.topics import TopicNames
    from gridstream.stack.files import StackFiles

    replay = one_week(tmp_path / "replay")
    state_dir = tmp_path / "state"
    topics = TopicNames().with_prefix(f"test-e2e-{uuid.uuid4().hex[:8]}-")
    env = dict(os.environ)
    env.update({f"GRIDSTREAM_TOPICS__{k.upper()}": v for k, v in topics.all().items()})
    env.update({"GRIDSTREAM_BOOTSTRAP": kafka_bootstrap, "GRIDSTREAM_STATE_DIR": str(state_dir)})
    env.pop("GRIDSTREAM_CONTROL_TOKEN", None)
    kafka = KafkaSettings(bootstrap=kafka_bootstrap, client_id="e2e")
    files = StackFiles(state_dir)
    try:
        up = gridstream(
            env,
            "up",
            "--source",
            f"replay:{replay}",
            "--speed",
            "max",
            "--timeout",
            "420",
            "--port-offset",
            str(free_offset()),
        )
        assert up.returncode == 0, (
            f"not every service became ready:\n{up.stdout}\n{up.stderr[-3000:]}"
        )
        assert "GridStream is up" in up.stdout and "Dashboard:" in up.stdout
        assert "replay" in up.stderr

        counts: dict[str, int] = {}
        deadline = time.monotonic() + 480
        counters = {
            name: CommittedCounter(kafka, getattr(topics, name)) for name in EXPECTED_TOPICS
        }
        try:
            while time.monotonic() < deadline:
                counts = {name: c.poll(0.5) for name, c in counters.items()}
                if all(counts.values()):
                    break
                time.sleep(2)
        finally:
            for c in counters.values():
                c.close()
        assert all(counts.values()), f"topics without records: {counts}"

        status = gridstream(env, "status", "--json", timeout=60)
        info = json.loads(status.stdout)
        assert info["running"] and len(info["services"]) == 10
        assert all(s["ready"] for s in info["services"]), info["services"]
        pids = [
            s.pid for s in (files.read_state() or pytest.fail("no stack state")).services.values()
        ]
        supervisor = info["supervisor_pid"]
    finally:
        down = gridstream(env, "down", timeout=180)
    assert down.returncode == 0, down.stderr
    from gridstream.broker.cluster import pid_alive

    time.sleep(1)
    assert not [p for p in [*pids, supervisor] if p and pid_alive(p)]
    leftover = subprocess.run(["pgrep", "-f", str(state_dir)], capture_output=True, text=True)
    assert leftover.stdout.strip() == "", f"processes left behind: {leftover.stdout}"
    Admin(kafka).delete_topics(list(topics.all().values()))
