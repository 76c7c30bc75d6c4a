"""Applying one version of a series' LightGBM quantile models (P10/P50/P90): loading them from
the model registry and predicting levels for (origin, lead) pairs or whole 24 h trajectories.

Each model predicts the scaled residual to the reference of ``design.reference_of`` (see
:mod:`gridstream.core.forecasting.quantile_training`); predictions are turned back into levels
with the target transform stored beside the models (``target``, JSON), sorted per step, so
quantiles never cross, and their band stretched by the calibrated per-lead factors
(:func:`gridstream.core.forecasting.lead_calibration.band_factors`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from gridstream.core.features.grid import HORIZON_STEPS, SLOT_MS
from gridstream.core.features.pipeline import feature_names
from gridstream.core.forecasting.design import (
    ANCHOR_LEADS,
    REFERENCES,
    anchor_weights,
    feature_array,
    model_feature_names,
    model_inputs,
    origin_slots_of,
    reference_of,
)
from gridstream.core.forecasting.train_config import QUANTILE_LEVELS, TARGET
from gridstream.core.forecasting.trajectory import (
    MODEL_KIND_LIGHTGBM,
    Trajectory,
    full_horizon,
)
from gridstream.core.forecasting.trees import ModelTextError, TreeModel

#: (origin, lead) pairs predicted at a time by ``predict_levels`` (bounds its memory)
PREDICT_CHUNK = 32_768


class QuantileForecaster:
    """Applies one version of a series' quantile models."""

    def __init__(
        self,
        series_id: str,
        version: str,
        texts: Mapping[str, str],
        parsed: Mapping[str, TreeModel] | None = None,
    ) -> None:
        """``parsed``: models already parsed from the same ``texts`` entries (training
        builds the forecaster again with a new target transform or median, and parsing a
        demand model's trees took longer than predicting its calibration window)."""
        from gridstream.store.registry import RegistryError

        self.series_id = series_id
        self.version = version
        known = parsed or {}
        try:
            self._models = {
                name: known[name] if name in known else TreeModel.from_text(texts[name])
                for name in QUANTILE_LEVELS
            }
        except ModelTextError as exc:
            raise RegistryError(f"{series_id}@{version}: unusable model text: {exc}") from None
        target = json.loads(texts[TARGET])
        self._reference = str(target.get("reference"))
        self._relative = bool(target.get("relative", False))
        self._scales = np.asarray(target.get("lead_scales"), dtype=np.float64)
        self._band = np.asarray(
            target.get("band_factors", [1.0] * (HORIZON_STEPS + 1)), dtype=np.float64
        )
        shapes = {self._scales.shape, self._band.shape}
        if shapes != {(HORIZON_STEPS + 1,)} or self._reference not in REFERENCES:
            raise RegistryError(
                f"{series_id}@{version} has a malformed target transform; retrain it"
            )
        expected = model_feature_names()
        for name, model in self._models.items():
            if model.feature_names != expected:
                raise RegistryError(
                    f"model {name} of {series_id}@{version} expects other features than this "
                    "code computes; retrain or roll back"
                )

    @property
    def models(self) -> Mapping[str, TreeModel]:
        """The parsed quantile models by name (p10, p50, p90)."""
        return self._models

    @classmethod
    def load(
        cls, registry_root: object, series_id: str, version: str | None = None
    ) -> QuantileForecaster:
        """Load ``version`` (default: the promoted one) from a model registry directory."""
        from pathlib import Path

        from gridstream.store.registry import ModelRegistry, RegistryError

        registry = ModelRegistry(Path(str(registry_root)))
        chosen = version or registry.current(series_id)
        if chosen is None:
            raise RegistryError(f"no promoted model for {series_id}: train one first")
        _meta, texts = registry.load_texts(series_id, chosen, model_feature_names())
        return cls(series_id, chosen, texts)

    def predict_levels(
        self,
        features: pd.DataFrame,
        origin_ts: pd.DatetimeIndex,
        rows: np.ndarray,
        leads: np.ndarray,
        num_threads: int = 2,
    ) -> np.ndarray:
        """P10/P50/P90 levels for (origin row, lead) pairs, shape ``(n, 3)``, non-crossing.

        Leads between anchors interpolate the scaled residual (see ``design``); the band
        around P50 is stretched per lead by the calibration factors
        (:func:`~gridstream.core.forecasting.lead_calibration.band_factors`)."""
        return self.predict_rows(
            feature_array(features), origin_slots_of(origin_ts), rows, leads, num_threads
        )

    def predict_rows(
        self,
        feats: np.ndarray,
        slots: np.ndarray,
        rows: np.ndarray,
        leads: np.ndarray,
        num_threads: int = 2,
    ) -> np.ndarray:
        """:meth:`predict_levels` on a pipeline feature array (columns of
        ``feature_names()``) and the UTC slot of each of its rows."""
        leads = leads.astype(np.int64)
        # in chunks: a 91-day calibration asks for ~200,000 pairs, whose model inputs (twice
        # that many rows where leads interpolate, 95 float64 columns) would hold ~300 MB
        parts = [
            self._levels(
                feats, slots, rows[i : i + PREDICT_CHUNK], leads[i : i + PREDICT_CHUNK], num_threads
            )
            for i in range(0, len(rows), PREDICT_CHUNK)
        ]
        return np.concatenate(parts) if parts else np.empty((0, len(QUANTILE_LEVELS)))

    def _levels(
        self,
        feats: np.ndarray,
        slots: np.ndarray,
        rows: np.ndarray,
        leads: np.ndarray,
        num_threads: int,
    ) -> np.ndarray:
        lower, upper, weight = anchor_weights(leads)
        use_low = weight < 1.0
        pair_rows = np.concatenate([rows, rows[use_low]])
        pair_leads = np.concatenate([upper, lower[use_low]])
        raw = self._raw(model_inputs(feats, slots, pair_rows, pair_leads), num_threads)
        scaled = raw[: len(rows)] * weight[:, None]
        scaled[use_low] += raw[len(rows) :] * (1.0 - weight[use_low])[:, None]
        base = reference_of(feats, rows, leads, self._reference)
        levels = self._levels_of(scaled * self._scales[leads][:, None], base[:, None])
        return self._calibrated(levels, self._band[leads])

    def _levels_of(self, residual: np.ndarray, base: np.ndarray) -> np.ndarray:
        """Levels from unscaled residuals and reference levels (broadcast together)."""
        if self._relative:
            relative: np.ndarray = base * (1.0 + residual)
            return relative
        absolute: np.ndarray = base + residual
        return absolute

    def _raw(self, inputs: np.ndarray, num_threads: int) -> np.ndarray:
        """Scaled residual predictions of the three models, shape ``(n, 3)``."""
        out = np.empty((inputs.shape[0], len(QUANTILE_LEVELS)))
        for j, name in enumerate(QUANTILE_LEVELS):
            out[:, j] = self._models[name].predict(inputs, num_threads=num_threads)
        return out

    @staticmethod
    def _calibrated(levels: np.ndarray, factor: np.ndarray) -> np.ndarray:
        ordered = np.sort(levels, axis=-1)
        mid = ordered[..., 1]
        low = mid - factor * (mid - ordered[..., 0])
        high = mid + factor * (ordered[..., 2] - mid)
        return np.stack([low, mid, high], axis=-1)

    def forecast(self, features: Mapping[str, float], issue_ts_ms: int) -> Trajectory:
        """The 24 h trajectory (96 steps) from one feature dict issued at ``issue_ts_ms``."""
        return self.forecast_many([features], [issue_ts_ms], num_threads=1)[0]

    def forecast_many(
        self,
        vectors: Sequence[Mapping[str, float]] | np.ndarray,
        issue_ts_ms: Sequence[int] | np.ndarray,
        num_threads: int | None = None,
    ) -> list[Trajectory]:
        """24 h trajectories for a batch of feature vectors in one pass over the trees.

        ``vectors`` are feature dicts (as from ``features_from_state``) or an array whose
        columns follow ``feature_names()`` (as from ``feature_vector``). Each vector is
        predicted at the anchor leads only; the 96 steps interpolate between them. Results
        equal :meth:`predict_levels` at every lead. ``num_threads`` defaults to 1 for
        small batches (thread start-up costs more than it saves) and 2 otherwise.
        """
        feats = _as_matrix(vectors)
        n = feats.shape[0]
        stamps = np.asarray(issue_ts_ms, dtype=np.int64)
        if n == 0:
            return []
        anchors = np.asarray(ANCHOR_LEADS, dtype=np.int64)
        rows = np.repeat(np.arange(n, dtype=np.int64), len(anchors))
        leads = np.tile(anchors, n)
        threads = num_threads or (1 if n < 32 else 2)
        raw = self._raw(model_inputs(feats, stamps // SLOT_MS, rows, leads), threads)
        at_anchor = raw.reshape(n, len(anchors), len(QUANTILE_LEVELS))
        scaled = np.matmul(at_anchor.transpose(0, 2, 1), _interpolation_matrix().T)
        scaled = scaled.transpose(0, 2, 1)
        horizon = full_horizon()
        base = reference_of(
            feats, np.repeat(np.arange(n), len(horizon)), np.tile(horizon, n), self._reference
        ).reshape(n, len(horizon))
        levels = self._levels_of(scaled * self._scales[horizon][None, :, None], base[:, :, None])
        bands = self._calibrated(levels, self._band[horizon][None, :])
        return [
            Trajectory(
                issue_ts_ms=int(stamps[i]),
                p10=bands[i, :, 0],
                p50=bands[i, :, 1],
                p90=bands[i, :, 2],
                model_version=self.version,
                model_kind=MODEL_KIND_LIGHTGBM,
            )
            for i in range(n)
        ]


def _as_matrix(vectors: Sequence[Mapping[str, float]] | np.ndarray) -> np.ndarray:
    if isinstance(vectors, np.ndarray):
        matrix = np.asarray(vectors, dtype=np.float64)
        return matrix.reshape(-1, len(feature_names()))
    names = feature_names()
    nan = float("nan")
    return np.array([[v.get(name, nan) for name in names] for v in vectors], dtype=np.float64)


_INTERP: list[np.ndarray] = []


def _interpolation_matrix() -> np.ndarray:
    """``(96, len(ANCHOR_LEADS))`` weights taking anchor predictions to every lead."""
    if not _INTERP:
        horizon = full_horizon()
        lower, upper, weight = anchor_weights(horizon)
        position = {lead: j for j, lead in enumerate(ANCHOR_LEADS)}
        matrix = np.zeros((len(horizon), len(ANCHOR_LEADS)))
        for i in range(len(horizon)):
            matrix[i, position[int(upper[i])]] += weight[i]
            matrix[i, position[int(lower[i])]] += 1.0 - weight[i]
        _INTERP.append(matrix)
    return _INTERP[0]
