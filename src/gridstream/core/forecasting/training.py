"""One training run for one series: fit a candidate, validate it against the incumbent on
the latest window, store it in the registry and promote it only if it wins.

The candidate is fitted on targets in ``[train_from, train_until − validation)`` and scored
on origins in the last ``validation_days`` (mean pinball loss over the 15 min, 1 h, 4 h and
24 h leads). The incumbent is scored on the same origins, so the comparison is like for like.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import time
from dataclasses import dataclass
from importlib import metadata as importlib_metadata

import numpy as np
import pandas as pd

from gridstream.core.features.grid import SERIES_FIELDS
from gridstream.core.features.pipeline import FEATURE_SET
from gridstream.core.forecasting.backtest import PreparedSeries, evaluate, fit
from gridstream.core.forecasting.design import model_feature_names
from gridstream.core.forecasting.model_cache import ModelCache
from gridstream.core.forecasting.promotion import Decision, promotion_decision
from gridstream.core.forecasting.quantile_model import QuantileForecaster
from gridstream.core.forecasting.train_config import TrainConfig
from gridstream.errors import GridstreamError
from gridstream.store.registry import ModelMetadata, ModelRegistry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pinned:
    """A deterministic run: the version id it stores (derived from its data and settings by
    the caller) and the incumbent it is judged against (not the registry's ``CURRENT``).
    A version already in the registry (a run repeated after a crash) is reused, not refitted:
    the same data and settings give the same model. A pinned run does not move the registry's
    ``CURRENT``: its caller publishes the decision (the trainer, on ``model_updates``)."""

    version: str
    incumbent: str | None


@dataclass(frozen=True)
class TrainOutcome:
    """What a training run produced and decided."""

    series_id: str
    version: str
    previous_version: str | None
    promoted: bool
    reason: str
    metrics: dict[str, float]
    metadata: ModelMetadata


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a model, recorded with every version."""
    out = {"python": platform.python_version()}
    for name in ("lightgbm", "numpy", "pandas", "holidays"):
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def data_hash(prepared: PreparedSeries, start: int, end: int) -> str:
    """SHA-256 of the timestamps and values a model was trained on."""
    digest = hashlib.sha256()
    digest.update(prepared.index[start:end].as_unit("ms").asi8.tobytes())
    digest.update(np.nan_to_num(prepared.values[start:end], nan=-1e300).tobytes())
    return digest.hexdigest()


def validation_loss(
    prepared: PreparedSeries, forecaster: QuantileForecaster, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[float, dict[str, float]]:
    """Mean pinball loss over the standard leads, and flat per-lead metrics."""
    flat: dict[str, float] = {}
    losses = []
    for entry in evaluate(prepared, forecaster, start, end):
        lead = str(entry["lead"])
        for key in ("mae", "mape", "pinball", "coverage_p10_p90"):
            value = entry.get(key)
            if isinstance(value, float):
                flat[f"{key}_{lead}"] = value
        if isinstance(entry.get("pinball"), float):
            losses.append(float(entry["pinball"]))  # type: ignore[arg-type]
    loss = float(np.mean(losses)) if losses else float("nan")
    flat["validation_pinball"] = loss
    return loss, flat


def train_series(
    prepared: PreparedSeries,
    registry: ModelRegistry,
    train_from: pd.Timestamp,
    train_until: pd.Timestamp,
    config: TrainConfig,
    validation_days: int = 28,
    reason: str = "manual",
    pinned: Pinned | None = None,
    cache: ModelCache | None = None,
) -> TrainOutcome:
    """Train, validate, store and (if it beats the incumbent) promote one series' models
    (``cache``: where the incumbent and a stored candidate are looked up, and the fitted
    candidate kept)."""
    models = cache or ModelCache(registry.root, per_series=0)
    series_id = f"{prepared.region}/{SERIES_FIELDS[prepared.series]}"
    val_from = train_until - pd.Timedelta(days=validation_days)
    if val_from <= train_from:
        raise GridstreamError("training window shorter than the validation window: widen it")
    if pinned is None:
        version = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{time.time_ns() % 10**6:06d}"
        incumbent_version = registry.current(series_id)
    else:
        version, incumbent_version = pinned.version, pinned.incumbent
    stored = pinned is not None and version in registry.versions(series_id)
    if stored:
        candidate = models.get(series_id, version)
        texts: dict[str, str] = {}
    else:
        candidate, texts = fit(prepared, train_from, val_from, config, version)
    loss, metrics = validation_loss(prepared, candidate, val_from, train_until)
    incumbent_loss = None
    if incumbent_version is not None:
        try:
            incumbent = models.get(series_id, incumbent_version)
            incumbent_loss, _ = validation_loss(prepared, incumbent, val_from, train_until)
        except GridstreamError as exc:
            logger.warning(
                "incumbent %s unusable (%s); judging candidate alone", incumbent_version, exc
            )
    decision: Decision = promotion_decision(loss, incumbent_loss)
    if incumbent_loss is not None:
        metrics["incumbent_validation_pinball"] = incumbent_loss
    start, end = prepared.position(train_from), prepared.position(val_from)
    meta = (
        registry.metadata(series_id, version)
        if stored
        else registry.save(
            ModelMetadata(
                series_id=series_id,
                version=version,
                created_at_ms=int(time.time() * 1000),
                train_from=train_from.isoformat(),
                train_until=val_from.isoformat(),
                feature_names=model_feature_names(),
                feature_set=FEATURE_SET,
                data_hash=data_hash(prepared, start, end),
                metrics=metrics,
                library_versions=library_versions(),
                params={
                    **config.for_series(prepared.series).as_dict(),
                    "validation_from": val_from.isoformat(),
                    "validation_until": train_until.isoformat(),
                    "reason": reason,
                },
            ),
            texts,
        )
    )
    if decision.yes and pinned is None:
        registry.promote(series_id, version, reason=reason)
    models.put(candidate)
    logger.info("%s %s: %s", series_id, version, decision.reason)
    return TrainOutcome(
        series_id, version, incumbent_version, decision.yes, decision.reason, metrics, meta
    )
