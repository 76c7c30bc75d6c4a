"""What the ingestor can be asked to do: the four modes as job descriptions.

Each job has a ``scope``: the namespace of its per-series watermarks, so a live poll, a
backfill of January and a replay of a folder each resume where *they* stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gridstream.errors import ConfigError, GridstreamError
from gridstream.services.ingestor.settings import IngestSettings


@dataclass(frozen=True)
class LiveJob:
    """Poll the API every ``poll_seconds`` for the last ``lookback_hours`` (and any catch-up)."""

    poll_seconds: float = 60.0
    lookback_hours: float = 6.0
    regions: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    cycles: int | None = None  # None: until stopped
    mode: str = "live"

    @property
    def scope(self) -> str:
        return "live"


@dataclass(frozen=True)
class BackfillJob:
    """Fetch ``[start, end)`` once, area by area."""

    start: datetime
    end: datetime
    regions: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    mode: str = "backfill"

    @property
    def scope(self) -> str:
        return f"backfill:{self.start.isoformat()}:{self.end.isoformat()}"


@dataclass(frozen=True)
class ReplayJob:
    """Replay recorded files under ``path`` in timestamp order (``speed`` None: at once).

    With ``paced_from`` the readings before it (from ``start``) go at once, a warm-up that
    fills the services' windows, and pacing begins there."""

    path: Path
    speed: float | None = None
    start: datetime | None = None
    end: datetime | None = None
    regions: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    mode: str = "replay"
    paced_from: datetime | None = None

    @property
    def scope(self) -> str:
        window = f"{self.start.isoformat() if self.start else ''}:{self.end or ''}"
        return f"replay:{self.path.name}:{window}"


@dataclass(frozen=True)
class SimulateJob:
    """The calibrated simulator from ``start``; without ``end`` it follows the wall clock."""

    seed: int = 0
    start: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    end: datetime | None = None
    speed: float | None = None
    mode: str = "simulate"

    @property
    def scope(self) -> str:
        return f"simulate:{self.seed}"  # restarts later in time resume after the watermark


Job = LiveJob | BackfillJob | ReplayJob | SimulateJob


class StreamRequest(BaseModel):
    """Body of ``POST /stream``: the mode and its parameters (unset ones use the settings)."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["live", "backfill", "replay", "simulate"] = "live"
    poll_seconds: float | None = Field(None, gt=0)
    lookback_hours: float | None = Field(None, gt=0)
    regions: list[str] | None = None
    areas: list[str] | None = None
    start: datetime | None = Field(None, alias="from")
    end: datetime | None = Field(None, alias="to")
    path: str | None = None
    speed: float | None = Field(None, gt=0)
    seed: int | None = None


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _inside(path: Path, roots: list[Path]) -> bool:
    resolved = path.resolve()
    return any(resolved == r.resolve() or r.resolve() in resolved.parents for r in roots)


def replay_job(ingest: IngestSettings) -> ReplayJob:
    """The start-up replay of ``GRIDSTREAM_INGEST_REPLAY_PATH`` the settings describe."""
    if ingest.replay_path is None:
        raise ConfigError("GRIDSTREAM_INGEST_SOURCE=replay needs GRIDSTREAM_INGEST_REPLAY_PATH")
    paced_from = _utc(ingest.replay_from)
    start = None
    if paced_from is not None:
        start = paced_from - timedelta(days=ingest.replay_warmup_days)
    return ReplayJob(
        ingest.replay_path,
        ingest.speed,
        start,
        None,
        ingest.regions,
        ingest.areas,
        paced_from=paced_from if ingest.speed is not None else None,
    )


def job_from_request(
    req: StreamRequest, ingest: IngestSettings, data_dir: Path | None, now: datetime
) -> Job:
    """A job from an HTTP request; raises :class:`ConfigError` with what to fix."""
    regions = tuple(req.regions or ingest.regions)
    areas = tuple(req.areas or ingest.areas)
    start, end = _utc(req.start), _utc(req.end)
    if req.mode == "live":
        return LiveJob(
            req.poll_seconds or ingest.poll_seconds,
            req.lookback_hours or ingest.lookback_hours,
            regions,
            areas,
        )
    if req.mode == "backfill":
        if start is None or end is None or end <= start:
            raise ConfigError("backfill needs 'from' < 'to' (ISO dates, UTC)")
        return BackfillJob(start, end, regions, areas)
    if req.mode == "replay":
        roots = [p for p in (ingest.replay_path, data_dir) if p is not None]
        path = Path(req.path) if req.path else ingest.replay_path
        if path is None:
            raise ConfigError("replay needs 'path' (or GRIDSTREAM_INGEST_REPLAY_PATH)")
        if not _inside(path, roots):
            raise ConfigError(
                "replay 'path' must lie under GRIDSTREAM_INGEST_REPLAY_PATH or GRIDSTREAM_DATA_DIR"
            )
        if not path.exists():
            raise ConfigError(f"replay path {path} does not exist")
        return ReplayJob(path, req.speed or ingest.speed, start, end, regions, areas)
    sim_start = start or (now - timedelta(days=1))
    seed = ingest.seed if req.seed is None else req.seed
    return SimulateJob(seed, sim_start, end, req.speed or ingest.speed)


def describe(job: Job) -> dict[str, object]:
    """A JSON-friendly summary of a job for ``/status``."""
    out: dict[str, object] = {"mode": job.mode, "scope": job.scope}
    for name, value in vars(job).items():
        if name != "mode":
            out[name] = value.isoformat() if isinstance(value, datetime) else value
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in out.items()}


class JobConflict(GridstreamError):
    """A job is already running; stop it first (POST /stop) or ask to replace it."""
