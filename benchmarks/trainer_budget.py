"""Weekly demand retrains on the trainer's budget at several demand-median round scales,
each candidate scored on the 7 days after its checkpoint (out of sample).

Run: PYTHONPATH=src .venv/bin/python benchmarks/trainer_budget.py --year 2022
     [--scales 7.5,1.0] [--step-days 14] [--data DIR]

For every checkpoint from 15 January to 20 December, every ``--step-days``: the trainer's
``schedule`` retrain (:func:`gridstream.services.trainer.jobs.run_training`, its default
settings, one thread) on the ten weeks before the checkpoint, once per scale, and the mean
pinball loss and 1 h / 24 h MAPE of that model over the next 7 days. Prints one JSON line:
per scale the mean loss, MAPEs and CPU seconds per training. Choose on one year, confirm on
another.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from gridstream.bench.data import DEFAULT_DATA
from gridstream.core.forecasting import QuantileForecaster, TrainConfig
from gridstream.core.forecasting.backtest import prepare
from gridstream.core.forecasting.training import validation_loss
from gridstream.services.trainer.jobs import TrainerSettings, run_training
from gridstream.sources.recorded import list_files, read_frame
from gridstream.store.registry import ModelRegistry


class ScaledSettings(TrainerSettings):
    """The trainer's settings with the retrains' demand-median round scale set."""

    demand_scale: float = 1.0

    def train_config(self, reason: str) -> TrainConfig:
        return replace(super().train_config(reason), demand_median_rounds_scale=self.demand_scale)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--year", type=int, required=True)
    parser.add_argument("--scales", default="7.5,1.0")
    parser.add_argument("--step-days", type=int, default=14)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    scales = [float(x) for x in args.scales.split(",")]
    year = args.year
    history = read_frame(list_files(args.data, regions=["ALL"], years=[year - 1, year, year + 1]))
    span = (history.ts >= pd.Timestamp(f"{year - 1}-11-01", tz="UTC")) & (
        history.ts < pd.Timestamp(f"{year + 1}-01-10", tz="UTC")
    )
    scored = prepare(history[span], "ALL", "demand")
    losses: dict[float, list[tuple[float, float, float]]] = {s: [] for s in scales}
    cpu = dict.fromkeys(scales, 0.0)
    checkpoints = pd.date_range(
        f"{year}-01-15", f"{year}-12-20", freq=f"{args.step_days}D", tz="UTC"
    )
    for checkpoint in checkpoints:
        window = history[
            (history.ts >= checkpoint - pd.Timedelta(weeks=10)) & (history.ts < checkpoint)
        ]
        for scale in scales:
            registry = ModelRegistry(Path(tempfile.mkdtemp(prefix="gridstream-budget-")))
            started = time.process_time()
            settings = ScaledSettings(threads=1, demand_scale=scale)
            outcome = run_training(
                window, "ALL", "demand", "schedule", registry, settings, deterministic=True
            )
            cpu[scale] += time.process_time() - started
            if outcome is None:
                continue
            model = QuantileForecaster.load(registry.root, outcome.series_id, outcome.version)
            loss, flat = validation_loss(
                scored, model, checkpoint, checkpoint + pd.Timedelta(days=7)
            )
            losses[scale].append((loss, flat.get("mape_24h", np.nan), flat.get("mape_1h", np.nan)))
        print(
            checkpoint.date(), {s: round(v[-1][0], 3) for s, v in losses.items()}, file=sys.stderr
        )
    results = {
        str(scale): {
            "pinball": float(np.mean([x[0] for x in rows])),
            "mape_24h": float(np.nanmean([x[1] for x in rows])),
            "mape_1h": float(np.nanmean([x[2] for x in rows])),
            "cpu_s_per_training": cpu[scale] / max(1, len(rows)),
            "trainings": len(rows),
        }
        for scale, rows in losses.items()
    }
    print(json.dumps({"year": year, "step_days": args.step_days, "results": results}))


if __name__ == "__main__":
    main()
