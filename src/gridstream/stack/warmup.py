"""A warm trainer before a replay starts: ``gridstream up`` trains on the recorded history.

A replay of the latest recorded weeks should carry model forecasts from its first reading,
not seasonal-naive ones for the hour a bootstrap takes. So before the services start, ``up``
loads the weeks of recorded readings that precede the replay's first reading, writes them to
the trainer's history store (so its scheduled retrains see a continuous history), trains each
trainer target on the bootstrap budget (``reason="warm-up"``, one LightGBM thread) and
promotes it. Nothing after the replay's start is read, so the replayed forecasts are
out-of-sample. A model trained earlier for the same start is found in the registry and
promoted again instead of being retrained: a second ``make run`` skips the training.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from gridstream.errors import GridstreamError
from gridstream.services.trainer.jobs import (
    TrainerSettings,
    run_training,
    series_id,
)
from gridstream.sources.recorded import list_files, read_frame
from gridstream.store.history import HistoryStore
from gridstream.store.registry import ModelRegistry, RegistryError

log = logging.getLogger(__name__)
TRAINED_AREAS = ("demandactual", "windactual", "co2intensity")
WARM_UP = "warm-up"
Progress = Callable[[str, int, int], None]  # series being trained, done, total


@dataclass(frozen=True)
class WarmModel:
    series_id: str
    version: str
    trained: bool  # False: an earlier warm-up's model for the same start, promoted again
    validation_pinball: float | None


def history_before(
    replay_dir: Path, start: datetime, weeks: int, regions: list[str]
) -> pd.DataFrame:
    """The trained series' recorded readings in ``[start - weeks, start)``."""
    first = start - timedelta(weeks=weeks)
    files = list_files(
        replay_dir, regions, list(TRAINED_AREAS), years=range(first.year, start.year + 1)
    )
    if not files:
        raise GridstreamError(
            f"no recorded demand/wind/CO2 files under {replay_dir} before {start}"
        )
    frame = read_frame(files)
    ts = frame["ts"]
    return frame[(ts >= pd.Timestamp(first)) & (ts < pd.Timestamp(start))].reset_index(drop=True)


def earlier_warm_model(registry: ModelRegistry, sid: str, until: datetime) -> str | None:
    """A model a previous warm-up trained for a replay starting at ``until``."""
    for version in reversed(registry.versions(sid)):
        try:
            params = registry.metadata(sid, version).params
        except RegistryError:
            continue
        if params.get("reason") == WARM_UP and params.get("validation_until") == until.isoformat():
            return version
    return None


def warm_trainer(
    replay_dir: Path,
    start: datetime,
    registry_root: Path,
    history_path: Path,
    progress: Progress = lambda sid, done, total: None,
    config: TrainerSettings | None = None,
) -> list[WarmModel]:
    """Fill the history store up to ``start`` and promote a model per target trained on it."""
    config = (config or TrainerSettings()).model_copy(update={"threads": 1})
    targets = config.targets()
    regions = sorted({region for region, _ in targets})
    history = history_before(replay_dir, start, config.bootstrap_weeks + 2, regions)
    history_path.parent.mkdir(parents=True, exist_ok=True)
    with HistoryStore(history_path) as db:
        db.upsert_frame(history)
    registry = ModelRegistry(registry_root)
    until = pd.Timestamp(start)
    out: list[WarmModel] = []
    for done, (region, name) in enumerate(targets):
        sid = series_id(region, name)
        progress(sid, done, len(targets))
        version = earlier_warm_model(registry, sid, until)
        if version is not None:
            if registry.current(sid) != version:
                registry.promote(sid, version, reason=WARM_UP)
            metrics = registry.metadata(sid, version).metrics
            out.append(WarmModel(sid, version, False, metrics.get("validation_pinball")))
            continue
        outcome = run_training(history, region, name, WARM_UP, registry, config)
        if outcome is None:
            log.warning("%s: not enough recorded history before %s to train", sid, start)
            continue
        if not outcome.promoted:  # an incumbent trained on later data must not serve the replay
            registry.promote(sid, outcome.version, reason=WARM_UP)
        out.append(WarmModel(sid, outcome.version, True, outcome.metrics.get("validation_pinball")))
    progress("", len(targets), len(targets))
    return out
