"""A replay that looks live: the warm-up days go at once, pacing starts at ``--from``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gridstream.schemas import readings_pb2
from gridstream.services.ingestor import runs
from gridstream.services.ingestor.jobs import replay_job
from gridstream.services.ingestor.runs import RunContext, pump, replay_files
from gridstream.services.ingestor.settings import IngestSettings
from gridstream.sources.pacing import Pacer
from gridstream.sources.watermark import Watermarks

SLOT_MS = 900_000
PACED_FROM = datetime(2022, 12, 17, tzinfo=UTC)


class _Sink:
    """Records what the run commits; remembers nothing across runs."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def watermarks(self, scope: str) -> Watermarks:
        return Watermarks()


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now


def _context(sink: _Sink, clock: _Clock) -> RunContext:
    ctx = RunContext(sink=sink, ingest=IngestSettings(), clock=clock)  # type: ignore[arg-type]

    def commit(scope: str, batch: list[readings_pb2.RawReading]) -> None:
        sink.batches.append([r.ts_ms for r in batch])
        ctx.sent += len(batch)

    def sleep(seconds: float) -> bool:
        clock.waits.append(seconds)
        clock.now += seconds
        return False

    ctx.commit = commit  # type: ignore[method-assign]
    ctx.sleep = sleep  # type: ignore[method-assign]
    return ctx


def _readings(first_ms: int, count: int) -> list[readings_pb2.RawReading]:
    return [
        readings_pb2.RawReading(
            series_id="ALL/SYSTEM_DEMAND", ts_ms=first_ms + i * SLOT_MS, value=4000.0 + i
        )
        for i in range(count)
    ]


def test_the_warm_up_goes_at_once_and_the_rest_at_the_pace(monkeypatch: Any) -> None:
    clock = _Clock()
    monkeypatch.setattr(runs, "Pacer", lambda speed: Pacer(speed, clock=clock))
    paced_from_ms = int(PACED_FROM.timestamp() * 1000)
    readings = _readings(paced_from_ms - 8 * SLOT_MS, 12)  # 8 warm-up slots, then 4 paced
    sink = _Sink()
    sent = pump(_context(sink, clock), "s", readings, 300.0, paced_from_ms=paced_from_ms)
    assert sent == 12
    # no wait before the first paced reading; then a quarter-hour per 3 s at x300
    assert clock.waits == [3.0, 3.0, 3.0]
    assert sink.batches[0][:8] == [r.ts_ms for r in readings[:8]]


def test_without_a_start_every_reading_is_paced(monkeypatch: Any) -> None:
    clock = _Clock()
    monkeypatch.setattr(runs, "Pacer", lambda speed: Pacer(speed, clock=clock))
    readings = _readings(0, 4)
    pump(_context(_Sink(), clock), "s", readings, 300.0)
    assert clock.waits == [3.0, 3.0, 3.0]


def test_the_start_up_job_comes_from_the_settings(tmp_path: Path) -> None:
    ingest = IngestSettings(
        source="replay",
        replay_path=tmp_path,
        speed=300.0,
        replay_from=PACED_FROM,
        replay_warmup_days=7.0,
    )
    job = replay_job(ingest)
    assert job.start == datetime(2022, 12, 10, tzinfo=UTC)
    assert job.paced_from == PACED_FROM and job.end is None and job.speed == 300.0
    assert "2022-12-10" in job.scope  # another start is another replay, with its own marks
    flood = replay_job(IngestSettings(source="replay", replay_path=tmp_path))
    assert flood.start is None and flood.paced_from is None and flood.speed is None
    # at full speed from a start: the warm-up and the rest both go at once
    at_max = replay_job(IngestSettings(replay_path=tmp_path, replay_from=PACED_FROM))
    assert at_max.paced_from is None and at_max.start == PACED_FROM


def test_a_replay_from_a_start_reads_only_the_years_it_needs(tmp_path: Path) -> None:
    folder = tmp_path / "ALL"
    folder.mkdir()
    for yy in (20, 21, 22):
        (folder / f"ALL_demandactual_{yy}_Eirgrid.csv").write_text("")
    job = replay_job(
        IngestSettings(replay_path=tmp_path, replay_from=datetime(2021, 1, 3, tzinfo=UTC))
    )
    names = [p.name for p in replay_files(job)]
    assert names == ["ALL_demandactual_21_Eirgrid.csv", "ALL_demandactual_22_Eirgrid.csv"]
