"""``gridstream ingest replay DIR --max --count-clean --json`` end to end on real data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gridstream.sources.recorded import list_files, read_frame

pytestmark = pytest.mark.integration
SMARTGRID = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "data"
    / "eirgrid"
    / "smartgriddashboard"
)


def test_count_clean_prints_one_json_line(kafka_bootstrap, tmp_path) -> None:  # type: ignore[no-untyped-def]
    if not SMARTGRID.exists():
        pytest.skip(f"real data {SMARTGRID} is absent (../shared/data beside the repo)")
    for path in list_files(SMARTGRID, ["ALL"], ["SnspALL"], [2022]):
        (tmp_path / path.name).symlink_to(path.resolve())
    files = list_files(tmp_path)
    assert files
    env = {
        **os.environ,
        "GRIDSTREAM_BOOTSTRAP": kafka_bootstrap,
        "GRIDSTREAM_STATE_DIR": str(tmp_path),
    }
    cmd = [sys.executable, "-c", "from gridstream.cli import main; main()"]
    done = subprocess.run(
        [*cmd, "ingest", "replay", str(tmp_path), "--max", "--count-clean", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout  # stdout holds only the JSON
    result = json.loads(lines[0])
    assert result["raw_readings"] == len(read_frame(files, dedupe=False))
    assert result["clean_readings"] == len(read_frame(files))  # unique non-null rows
    assert result["dead_letters"] == 0
    assert result["readings_per_s"] > 0 and result["temporary_broker"] is False
