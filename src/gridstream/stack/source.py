"""Choosing the ingestor's data source for ``gridstream up --source ...``, and saying why.

``auto`` uses the live EirGrid API when it answers, else the recorded data beside the
repository (``../shared/data/eirgrid``) when present, else the simulator. The choice reaches
the ingestor as ``GRIDSTREAM_INGEST_SOURCE`` / ``_REPLAY_PATH`` / ``_SPEED`` /
``_REPLAY_FROM`` / ``_REPLAY_WARMUP_DAYS``.

A replay looks live by default: it starts ``RECENT_DAYS`` before the end of the recording,
sends the ``WARMUP_DAYS`` before that at once (the longest feature lag and the detector's
baselines are a week), then plays ``DEFAULT_REPLAY_SPEED`` seconds of grid time per second:
a quarter-hour of readings every 3 s, a day in under five minutes. ``--speed max`` without
``--from`` floods the whole recording from its first file, as fast as the pipeline takes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from gridstream.errors import ConfigError

LIVE_PROBE_PATH = "/DashboardService.svc/data"
DEFAULT_REPLAY_SPEED = 300.0
RECENT_DAYS = 14
WARMUP_DAYS = 7.0


@dataclass(frozen=True)
class Pace:
    """How the ingestor plays its source: ``speed`` None is as fast as possible; a replay
    with ``start`` begins there (after ``warmup_days`` sent at once)."""

    speed: float | None = None
    start: dt.datetime | None = None
    warmup_days: float = 0.0

    def env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        if self.speed is not None:
            env["GRIDSTREAM_INGEST_SPEED"] = repr(self.speed)
        if self.start is not None:
            env["GRIDSTREAM_INGEST_REPLAY_FROM"] = self.start.isoformat()
            env["GRIDSTREAM_INGEST_REPLAY_WARMUP_DAYS"] = repr(self.warmup_days)
        return env

    def describe(self) -> str:
        rate = "as fast as possible" if self.speed is None else f"×{self.speed:g}"
        if self.start is None:
            return rate
        before = f"the {self.warmup_days:g} days before at once"
        return f"from {self.start:%d %b %Y %H:%M} UTC, {rate} ({before})"


@dataclass(frozen=True)
class SourceChoice:
    kind: str  # live, replay or simulate
    path: Path | None
    reason: str

    def env(self, pace: Pace) -> dict[str, str]:
        """Environment for the services (the ingestor's source, the clock mode)."""
        env = {"GRIDSTREAM_INGEST_SOURCE": self.kind}
        if self.kind == "live":  # only a live feed lets the wall clock move idle inputs on
            env["GRIDSTREAM_CLOCK"] = "live"
        if self.path is not None:
            env["GRIDSTREAM_INGEST_REPLAY_PATH"] = str(self.path)
        return env | pace.env()

    def describe(self) -> str:
        where = f" {self.path}" if self.path else ""
        return f"{self.kind}{where} — {self.reason}"


def parse_speed(speed: str) -> float | None:
    """A speed factor; ``max`` is None (as fast as possible)."""
    if speed.strip().lower() == "max":
        return None
    try:
        value = float(speed)
    except ValueError:
        raise ConfigError(f"--speed {speed!r}: give a factor such as 60, or 'max'") from None
    if value <= 0:
        raise ConfigError("--speed must be positive (or 'max')")
    return value


def parse_day(text: str) -> dt.datetime:
    """``--from``: an ISO date or date-time, UTC unless it says otherwise."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--from {text!r}: give a date such as 2022-12-03") from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def recording_end(replay_dir: Path) -> dt.datetime:
    """The time of the latest reading in the newest year's recorded files."""
    from gridstream.sources.recorded import list_files, read_frame

    files = list_files(replay_dir)
    if not files:
        raise ConfigError(f"no recorded files under {replay_dir}")
    newest = max(int(f.name.split("_")[-2]) for f in files)
    latest = read_frame(list_files(replay_dir, years=[newest]))["ts"].max()
    return dt.datetime.fromtimestamp(latest.timestamp(), dt.UTC)


def choose_pace(
    choice: SourceChoice,
    speed: str | None,
    start: str | None,
    recording_end: Callable[[], dt.datetime],
) -> Pace:
    """Resolve ``--speed`` and ``--from`` for the chosen source (see the module docstring)."""
    factor = parse_speed(speed) if speed is not None else None
    if choice.kind != "replay":
        if start is not None:
            raise ConfigError(f"--from is for replays; the source is {choice.kind}")
        return Pace(factor)
    if speed is None:
        factor = DEFAULT_REPLAY_SPEED
    if start is None and factor is None:
        return Pace(None)  # --speed max: the whole recording, at once
    end = recording_end()
    if start is None:
        first = end - dt.timedelta(days=RECENT_DAYS)
        moment = first.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        moment = parse_day(start)
        if moment >= end:
            raise ConfigError(
                f"--from {start}: the recording ends at {end:%Y-%m-%d %H:%M} UTC; start before it"
            )
    return Pace(factor, moment, WARMUP_DAYS)


def default_replay_dir(data_dir: Path | None) -> Path:
    """Recorded EirGrid files: ``<data_dir>/eirgrid`` or ``../shared/data/eirgrid``."""
    if data_dir is not None:
        return data_dir / "eirgrid"
    return Path.cwd().parent / "shared" / "data" / "eirgrid"


def probe_live(base_url: str, timeout_s: float = 5.0) -> str | None:
    """None when the live API answers with data, else why not (in words)."""
    day = dt.datetime.now(dt.UTC).strftime("%d-%b-%Y")
    params = {
        "area": "demandactual",
        "region": "ALL",
        "datefrom": f"{day} 00:00",
        "dateto": f"{day} 23:59",
    }
    try:
        response = httpx.get(base_url + LIVE_PROBE_PATH, params=params, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return f"the live EirGrid API at {base_url} did not answer ({type(exc).__name__})"
    if response.status_code != 200:
        return f"the live EirGrid API answered HTTP {response.status_code}"
    try:
        rows = response.json().get("Rows")
    except (ValueError, AttributeError):
        return "the live EirGrid API answered, but not with JSON data"
    if not rows:
        return "the live EirGrid API answered without any rows for today"
    return None


def choose_source(
    option: str, replay_dir: Path, live_probe: Callable[[], str | None]
) -> SourceChoice:
    """Resolve ``--source`` (auto, live, simulate, replay, replay:PATH)."""
    if option == "live":
        return SourceChoice("live", None, "asked for with --source live")
    if option == "simulate":
        return SourceChoice("simulate", None, "asked for with --source simulate")
    if option == "replay" or option.startswith("replay:"):
        path = Path(option.split(":", 1)[1]).expanduser() if ":" in option else replay_dir
        if not path.exists():
            raise ConfigError(f"--source {option}: {path} does not exist; give recorded files")
        return SourceChoice("replay", path.resolve(), "asked for with --source replay")
    if option != "auto":
        raise ConfigError(
            f"--source {option!r}: choose auto, live, simulate, replay or replay:PATH"
        )
    why_not_live = live_probe()
    if why_not_live is None:
        return SourceChoice("live", None, "the live EirGrid API answered")
    if replay_dir.is_dir() and any(replay_dir.rglob("*_Eirgrid.csv*")):
        return SourceChoice(
            "replay", replay_dir.resolve(), f"{why_not_live}; recorded data found instead"
        )
    return SourceChoice("simulate", None, f"{why_not_live}, and no recorded data in {replay_dir}")
