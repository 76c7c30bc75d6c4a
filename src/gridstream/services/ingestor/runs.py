"""Running one ingest job against the sink: replay, simulate, backfill and live polling.

A run sends readings in transactions of at most ``batch_size`` (paced runs also every half
second so data shows up while they wait). Replay and simulate skip what the job's committed
watermarks say was sent before a restart. Live and backfill fetch area by area; when the API
could not deliver a chunk, the readings from the start of that chunk on are held back, so
the watermark never passes a gap and the next poll (or re-run) fetches it again. Gaps are
announced on ``system_events`` when they open and when they are filled.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

from gridstream.schemas import alert_pb2, common_pb2, readings_pb2
from gridstream.services.ingestor.jobs import BackfillJob, LiveJob, ReplayJob, SimulateJob
from gridstream.services.ingestor.settings import IngestSettings
from gridstream.services.ingestor.sink import IngestSink
from gridstream.sources.catalogue import area_regions, specs_for_area
from gridstream.sources.client import EirGridClient
from gridstream.sources.gaps import Gap
from gridstream.sources.local_time import IRISH_TZ
from gridstream.sources.pacing import Pacer
from gridstream.sources.recorded import list_files
from gridstream.sources.records import series_id
from gridstream.sources.replay import iter_recorded
from gridstream.sources.simulator import Simulator

SERVICE = "smart-ingestor"
Progress = Callable[[int, int | None], None]  # readings sent so far, data time reached (ms)


@dataclass
class RunContext:
    """What a run needs from the worker that hosts it."""

    sink: IngestSink
    ingest: IngestSettings
    cancel: threading.Event = field(default_factory=threading.Event)
    clock: Callable[[], float] = time.time
    tick: Callable[[], None] = lambda: None
    progress: Progress = lambda sent, ts: None
    client_factory: Callable[[], EirGridClient] | None = None
    step: Callable[[str], None] = lambda name: None  # one area/region fetched
    open_gaps: dict[str, dict[str, str]] = field(default_factory=dict)
    gap_lock: threading.Lock = field(default_factory=threading.Lock)
    sent: int = 0

    def sleep(self, seconds: float) -> bool:
        """Wait (ticking health), True when the run was cancelled meanwhile."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.tick()
            if self.cancel.wait(min(1.0, left)):
                return True
        return self.cancel.is_set()

    async def async_sleep(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0 and not self.cancel.is_set():
            self.tick()
            await asyncio.sleep(min(0.5, left))
        return self.cancel.is_set()

    def client(self) -> EirGridClient:
        factory = self.client_factory
        return factory() if factory else EirGridClient(self.ingest.client_settings())

    def commit(
        self,
        scope: str,
        readings: list[readings_pb2.RawReading],
        events: Iterable[alert_pb2.SystemEvent] = (),
    ) -> None:
        self.sink.commit(scope, readings, events)
        self.sent += len(readings)
        self.progress(self.sent, readings[-1].ts_ms if readings else None)
        self.tick()


def system_event(kind: str, severity: int, message: str, **labels: str) -> alert_pb2.SystemEvent:
    return alert_pb2.SystemEvent(
        event_id=f"{kind}:{uuid.uuid4().hex[:12]}",
        service=SERVICE,
        kind=kind,
        severity=severity,  # type: ignore[arg-type]
        message=message,
        ts_ms=int(time.time() * 1000),
        labels=labels,
    )


# ---- replay and simulate ------------------------------------------------------------------
def pump(
    ctx: RunContext,
    scope: str,
    readings: Iterable[readings_pb2.RawReading],
    speed: float | None,
    follow_clock: bool = False,
    paced_from_ms: int | None = None,
) -> int:
    """Send readings in order, paced, skipping those sent before a restart; returns count.

    Readings before ``paced_from_ms`` are sent at once (the warm-up of a paced replay)."""
    resume = ctx.sink.watermarks(scope)
    pacer = Pacer(speed)
    batch: list[readings_pb2.RawReading] = []
    flushed_at = time.monotonic()
    sent_before = ctx.sent
    paced = speed is not None or follow_clock
    for reading in readings:
        if ctx.cancel.is_set():
            break
        if not resume.is_new(reading):
            continue
        early = paced_from_ms is not None and reading.ts_ms < paced_from_ms
        wait = 0.0 if early else pacer.delay_s(reading.ts_ms)
        if follow_clock:
            wait = max(wait, reading.ts_ms / 1000 - ctx.clock())
        if wait > 0:
            if batch:
                ctx.commit(scope, batch)
                batch, flushed_at = [], time.monotonic()
            if ctx.sleep(wait):
                break
        reading.ingested_at_ms = int(ctx.clock() * 1000)
        batch.append(reading)
        if len(batch) >= ctx.ingest.batch_size or (paced and time.monotonic() - flushed_at >= 0.5):
            ctx.commit(scope, batch)
            batch, flushed_at = [], time.monotonic()
    if batch:
        ctx.commit(scope, batch)
    return ctx.sent - sent_before


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def windowed(
    readings: Iterable[readings_pb2.RawReading], start: datetime | None, end: datetime | None
) -> Iterator[readings_pb2.RawReading]:
    """Readings (in time order) with ``start <= ts < end``."""
    lo, hi = _ms(start), _ms(end)
    for reading in readings:
        if hi is not None and reading.ts_ms >= hi:
            return
        if lo is None or reading.ts_ms >= lo:
            yield reading


def replay_files(job: ReplayJob) -> list[Path]:
    years = None
    if job.start is not None:
        last = job.end.year if job.end is not None else 2099
        years = range(job.start.year, last + 1)
    return list_files(job.path, job.regions or None, job.areas or None, years)


def run_replay(ctx: RunContext, job: ReplayJob) -> int:
    readings = iter_recorded(replay_files(job), source="replay")
    return pump(
        ctx,
        job.scope,
        windowed(readings, job.start, job.end),
        job.speed,
        paced_from_ms=_ms(job.paced_from),
    )


def run_simulate(ctx: RunContext, job: SimulateJob) -> int:
    end = job.end or datetime(2100, 1, 1, tzinfo=UTC)
    readings = Simulator(job.seed).readings(job.start, end)
    follow = job.end is None and job.speed is None
    return pump(ctx, job.scope, readings, job.speed, follow_clock=follow)


# ---- API: backfill and live ---------------------------------------------------------------
def _local_midnight_ms(day: date) -> int:
    moment = datetime.combine(day, dtime(0), tzinfo=ZoneInfo(IRISH_TZ))
    return int(moment.timestamp() * 1000)


def _gap_key(area: str, region: str) -> str:
    return f"{area}/{region}"


def _gap_events(
    ctx: RunContext, area: str, region: str, gaps: list[Gap], delivered: int
) -> list[alert_pb2.SystemEvent]:
    key = _gap_key(area, region)
    events = []
    with ctx.gap_lock:
        if gaps:
            first = min(g.first for g in gaps).isoformat()
            last = max(g.last for g in gaps).isoformat()
            reason = gaps[0].reason
            if key not in ctx.open_gaps:
                events.append(
                    system_event(
                        "ingest_gap",
                        common_pb2.SEVERITY_WARNING,
                        f"EirGrid did not deliver {key} for {first}..{last}: {reason}; "
                        "it will be fetched again when the API recovers",
                        area=area,
                        region=region,
                        first=first,
                        last=last,
                        reason=reason[:300],
                    )
                )
            ctx.open_gaps[key] = {
                "area": area,
                "region": region,
                "first": first,
                "last": last,
                "reason": reason,
            }
        elif key in ctx.open_gaps:
            gap = ctx.open_gaps.pop(key)
            events.append(
                system_event(
                    "ingest_gap_filled",
                    common_pb2.SEVERITY_INFO,
                    f"{key} recovered: {delivered} readings since {gap['first']} fetched",
                    area=area,
                    region=region,
                    first=gap["first"],
                    readings=str(delivered),
                )
            )
    return events


async def fetch_pair(
    ctx: RunContext,
    client: EirGridClient,
    scope: str,
    area: str,
    region: str,
    start: datetime,
    end: datetime,
    source: str,
) -> int:
    """Fetch one area/region span, send what is new and gap-free, announce gaps."""
    readings = await client.fetch(area, region, start, end, source=source)
    gaps = client.take_gaps()
    marks = ctx.sink.watermarks(scope)
    new = [r for r in readings if marks.is_new(r)]
    if gaps:
        cut = min(_local_midnight_ms(g.first) for g in gaps)
        new = [r for r in new if r.ts_ms < cut]
    events = _gap_events(ctx, area, region, gaps, len(new))
    if new or events:
        ctx.commit(scope, new, events)
    ctx.step(f"{area}/{region}")
    ctx.tick()
    return len(new)


def pair_series(area: str, region: str) -> list[str]:
    return [series_id(region, s.field) for s in specs_for_area(area) if region in s.regions]


async def _backfill(ctx: RunContext, job: BackfillJob) -> int:
    sent = 0
    async with ctx.client() as client:
        for area, region in area_regions(job.areas or None, job.regions or None):
            if ctx.cancel.is_set():
                break
            sent += await fetch_pair(
                ctx, client, job.scope, area, region, job.start, job.end, "backfill"
            )
    return sent


def run_backfill(ctx: RunContext, job: BackfillJob) -> int:
    return asyncio.run(_backfill(ctx, job))


def live_window(
    ctx: RunContext, job: LiveJob, area: str, region: str, now_ms: int
) -> tuple[datetime, datetime]:
    """From the newest watermark of the pair (or the lookback, if earlier) to now."""
    marks = ctx.sink.watermarks(job.scope)
    known = [m for s in pair_series(area, region) if (m := marks.get(s)) is not None]
    start_ms = now_ms - int(job.lookback_hours * 3_600_000)
    if known:
        start_ms = min(start_ms, max(known) + 1)
    start_ms = max(start_ms, now_ms - ctx.ingest.max_catchup_days * 86_400_000)
    to_dt = datetime.fromtimestamp
    return to_dt(start_ms / 1000, UTC), to_dt(now_ms / 1000, UTC) + timedelta(milliseconds=1)


async def _live(ctx: RunContext, job: LiveJob) -> int:
    sent = 0
    cycle = 0
    async with ctx.client() as client:
        while not ctx.cancel.is_set():
            now_ms = int(ctx.clock() * 1000)
            for area, region in area_regions(job.areas or None, job.regions or None):
                if ctx.cancel.is_set():
                    break
                start, end = live_window(ctx, job, area, region, now_ms)
                sent += await fetch_pair(ctx, client, job.scope, area, region, start, end, "live")
            cycle += 1
            if job.cycles is not None and cycle >= job.cycles:
                break
            if await ctx.async_sleep(job.poll_seconds):
                break
    return sent


def run_live(ctx: RunContext, job: LiveJob) -> int:
    return asyncio.run(_live(ctx, job))
