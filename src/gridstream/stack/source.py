"""Choosing the ingestor's data source for ``gridstream up --source ...``, and saying why.

``auto`` uses the live EirGrid API when it answers, else the recorded data beside the
repository (``../shared/data/eirgrid``) when present, else the simulator. The choice reaches
the ingestor as ``GRIDSTREAM_INGEST_SOURCE`` / ``_REPLAY_PATH`` / ``_SPEED``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from gridstream.errors import ConfigError

LIVE_PROBE_PATH = "/DashboardService.svc/data"


@dataclass(frozen=True)
class SourceChoice:
    kind: str  # live, replay or simulate
    path: Path | None
    reason: str

    def env(self, speed: str | None) -> dict[str, str]:
        """Environment for the ingestor; speed ``max`` (or none) means as fast as possible."""
        env = {"GRIDSTREAM_INGEST_SOURCE": self.kind}
        if self.path is not None:
            env["GRIDSTREAM_INGEST_REPLAY_PATH"] = str(self.path)
        if speed is not None and speed.lower() != "max":
            env["GRIDSTREAM_INGEST_SPEED"] = str(parse_speed(speed))
        return env

    def describe(self) -> str:
        where = f" {self.path}" if self.path else ""
        return f"{self.kind}{where} — {self.reason}"


def parse_speed(speed: str) -> float:
    try:
        value = float(speed)
    except ValueError:
        raise ConfigError(f"--speed {speed!r}: give a factor such as 60, or 'max'") from None
    if value <= 0:
        raise ConfigError("--speed must be positive (or 'max')")
    return value


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
