"""Restarting the ingestor (``gridstream ingest replay``) after SIGKILL: no gap, no duplicate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from gridstream.bus.admin import Admin
from gridstream.bus.reader import CommittedCounter, read_topic
from gridstream.bus.topics import TopicSpec
from gridstream.schemas import readings_pb2
from gridstream.sources.recorded import list_files, read_frame

from .ingest_support import SMARTGRID, pipeline_settings

pytestmark = pytest.mark.integration
WINDOW = ["--from", "2022-03-10", "--to", "2022-03-14"]  # no 1st-of-month repeats inside


def _replay(folder, env, *extra: str) -> subprocess.Popen[bytes]:  # type: ignore[no-untyped-def]
    cmd = [sys.executable, "-c", "from gridstream.cli import main; main()", "ingest", "replay"]
    return subprocess.Popen(
        [*cmd, str(folder), *WINDOW, *extra, "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


def test_sigkill_then_restart_resumes_exactly(kafka_bootstrap, unique, tmp_path) -> None:  # type: ignore[no-untyped-def]
    if not SMARTGRID.exists():
        pytest.skip(f"real data {SMARTGRID} is absent (../shared/data beside the repo)")
    folder = tmp_path / "recorded"
    folder.mkdir()
    for path in list_files(SMARTGRID, ["ALL"], ["demandactual", "windactual"], [2022]):
        (folder / path.name).symlink_to(path.resolve())
    frame = read_frame(list_files(folder), dedupe=False)
    frame = frame[(frame["ts"] >= "2022-03-10") & (frame["ts"] < "2022-03-14")]
    expected = len(frame)
    settings = pipeline_settings(kafka_bootstrap, unique("restart"), tmp_path)
    env = {
        **os.environ,
        "GRIDSTREAM_BOOTSTRAP": kafka_bootstrap,
        "GRIDSTREAM_TOPICS__RAW": settings.topics.raw,
        "GRIDSTREAM_TOPICS__SYSTEM_EVENTS": settings.topics.system_events,
        "GRIDSTREAM_STATE_DIR": str(tmp_path),
    }
    Admin(settings.kafka()).ensure_topics([TopicSpec(settings.topics.raw, 3)])
    counter = CommittedCounter(settings.kafka(), settings.topics.raw)
    proc = _replay(folder, env, "--speed", str(4 * 86400 / 30))  # four days in ~30 s
    try:
        deadline = time.monotonic() + 120
        while counter.poll(0.5) < expected // 3:
            assert proc.poll() is None, "the replay ended before it could be killed"
            assert time.monotonic() < deadline
        proc.send_signal(signal.SIGKILL)  # mid-stream, possibly mid-transaction
        proc.wait()
    finally:
        counter.close()
        if proc.poll() is None:
            proc.kill()
    resumed = _replay(folder, env, "--max")
    out, _ = resumed.communicate(timeout=180)
    assert resumed.returncode == 0
    summary = json.loads(out)
    assert 0 < summary["raw_readings"] < expected  # only the rest was sent

    raw = read_topic(settings.kafka(), settings.topics.raw, readings_pb2.RawReading)
    ids = [r.value.record_id for r in raw]
    assert len(ids) == len(set(ids)) == expected
