"""Helpers shared by the ingest/preprocessor integration tests (real broker, random topics)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gridstream.bus.runner import Runner
from gridstream.bus.topics import TopicNames
from gridstream.config import Settings
from gridstream.core.cleaning import SeriesState
from gridstream.services.ingestor.service import Ingestor
from gridstream.services.ingestor.settings import IngestSettings
from gridstream.services.preprocessor.service import SERVICE, preprocessor_runner

RECORDED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "eirgrid"
SMARTGRID = RECORDED / "smartgriddashboard"


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def pipeline_settings(bootstrap: str, prefix: str, tmp_path: Path, **extra: Any) -> Settings:
    return Settings(
        bootstrap=bootstrap,
        topics=TopicNames().with_prefix(prefix + "-"),
        state_dir=tmp_path,
        **extra,
    )


def make_ingestor(settings: Settings, **ingest: Any) -> Ingestor:
    ingestor = Ingestor(settings, IngestSettings(source="idle", **ingest))
    ingestor.open()
    return ingestor


class RunningPreprocessor:
    """The preprocessor runner in a thread, with its own consumer group."""

    def __init__(self, settings: Settings, group: str) -> None:
        self.settings = settings
        self.runner: Runner[SeriesState] = preprocessor_runner(settings, group=group)
        self.thread = threading.Thread(target=self.runner.run, daemon=True)
        self.thread.start()

    def consumed(self) -> float:
        value = self.runner.registry.get_sample_value(
            "gridstream_records_in_total", {"service": SERVICE, "topic": self.settings.topics.raw}
        )
        return float(value or 0.0)

    def wait_consumed(self, count: int, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.consumed() < count:
            assert self.thread.is_alive(), "the preprocessor runner died"
            assert time.monotonic() < deadline, f"consumed {self.consumed()} of {count}"
            time.sleep(0.1)

    def stop(self) -> None:
        self.runner.stop()
        self.thread.join(60)


def wait_for(predicate: Callable[[], bool], timeout_s: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
