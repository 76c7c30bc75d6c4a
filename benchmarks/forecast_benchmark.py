"""Forecasting benchmark: training time for every model and forecaster throughput.

Run: .venv/bin/python benchmarks/forecast_benchmark.py [DATA_DIR] [--regions ALL,ROI,NI]

1. Trains the P10/P50/P90 models of demand, wind and CO2 for each region on 2019-2021 (the
   trainer's defaults) and prints the wall time, with the machine's load average (the CPU is
   shared, so a busy machine inflates the figure).
2. Replays feature vectors of January 2022 (ALL demand, the largest model: 1,200 median
   trees) through the forecaster, one 96-step P10/P50/P90 trajectory per vector: one by one
   (``forecast``, a dict per vector) and in batches of ``--batch`` vectors (``forecast_many``,
   what a consumer does with a poll's worth of records), and prints vectors per second, wall
   clock and per CPU second.
3. Replays the vectors of every trained series, interleaved in time order as a replay delivers
   them, through the service's own steps, ``--batch`` records at a time: ``FeatureVector``
   bytes parsed, their values read, one model call per series (``forecast_batch``), the
   ``Forecast`` messages serialised: the forecaster's work per record apart from Kafka.
The accuracy figures come from ``gridstream backtest`` (see its --help).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gridstream.core.features.grid import SERIES_FIELDS, ts_ms_index
from gridstream.core.forecasting import TrainConfig
from gridstream.core.forecasting.backtest import PreparedSeries, fit, prepare
from gridstream.core.forecasting.quantile_model import QuantileForecaster
from gridstream.schemas import features_pb2
from gridstream.services.forecaster.batch import Issue, forecast_batch
from gridstream.services.forecaster.feature_vector import vector_values
from gridstream.sources.recorded import list_files, read_frame

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "eirgrid"
AREAS = ["demandactual", "windactual", "co2intensity"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", nargs="?", type=Path, default=DATA)
    parser.add_argument("--regions", default="ALL,ROI,NI")
    parser.add_argument("--vectors", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    regions = args.regions.split(",")
    history = read_frame(
        list_files(args.data, regions=regions, areas=AREAS, years=range(2018, 2023))
    )
    config = TrainConfig()
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    cpu_start = time.process_time()
    models = {}
    train_from = pd.Timestamp("2019-01-01", tz="UTC")
    train_until = pd.Timestamp("2022-01-01", tz="UTC")
    for region in regions:
        for series in ("demand", "wind", "co2"):
            prepared = prepare(history, region, series)
            models[(region, series)] = (prepared, fit(prepared, train_from, train_until, config)[0])
    train_s = time.perf_counter() - start
    train_cpu_s = time.process_time() - cpu_start
    prepared, forecaster = models[(regions[0], "demand")]
    rows = prepared.features.index.get_indexer(
        prepared.features.index[prepared.features.index >= train_until][: args.vectors]
    )
    ts_ms = ts_ms_index(pd.DatetimeIndex(prepared.index))
    records = prepared.features.iloc[rows].to_dict("records")
    start = time.perf_counter()
    for row, feats in zip(rows, records, strict=True):
        forecaster.forecast({str(k): float(v) for k, v in feats.items()}, int(ts_ms[row]))
    rate = len(records) / (time.perf_counter() - start)
    matrix = prepared.features.to_numpy()[rows]
    forecaster.forecast_many(matrix[: args.batch], ts_ms[rows][: args.batch])  # warm caches
    start, cpu = time.perf_counter(), time.process_time()
    for first in range(0, len(rows), args.batch):
        chunk = rows[first : first + args.batch]
        forecaster.forecast_many(matrix[first : first + args.batch], ts_ms[chunk])
    batched = len(rows) / (time.perf_counter() - start)
    batched_cpu = len(rows) / (time.process_time() - cpu)
    mixed, mixed_cpu, mixed_count = _replay_mix(models, train_until, args.vectors, args.batch)
    print(
        json.dumps(
            {
                "models": 3 * len(models),
                "train_and_features_s": round(train_s, 1),
                "train_and_features_cpu_s": round(train_cpu_s, 1),
                "load_average_before": round(load_before, 2),
                "load_average_after": round(os.getloadavg()[0], 2),
                "forecaster_vectors_per_s_single": round(rate, 1),
                "forecaster_vectors_per_s_batched": round(batched, 1),
                "forecaster_vectors_per_cpu_s_batched": round(batched_cpu, 1),
                "replay_mix_vectors": mixed_count,
                "replay_mix_vectors_per_s": round(mixed, 1),
                "replay_mix_vectors_per_cpu_s": round(mixed_cpu, 1),
                "batch": args.batch,
                "config": config.as_dict(),
            }
        )
    )


def _replay_mix(
    models: dict[tuple[str, str], tuple[PreparedSeries, QuantileForecaster]],
    since: pd.Timestamp,
    per_series: int,
    batch: int,
) -> tuple[float, float, int]:
    """Vectors/s (wall, CPU) of the forecaster's work per record apart from Kafka, over every
    series' first ``per_series`` vectors from ``since`` interleaved by time, ``batch`` records
    at a time: parse the ``FeatureVector`` bytes (packed, as the ml-preprocessor sends them),
    read their values, forecast (``forecast_batch``) and serialise the ``Forecast`` messages."""
    records = []
    for (region, series), (prepared, forecaster) in models.items():
        chosen = prepared.features[prepared.features.index >= since].iloc[:per_series]
        stamps = ts_ms_index(pd.DatetimeIndex(chosen.index))
        for ts, row in zip(stamps, chosen.to_numpy(dtype=np.float64), strict=True):
            vector = features_pb2.FeatureVector(
                series_id=forecaster.series_id,
                region=region,
                field=SERIES_FIELDS[series],
                ts_ms=int(ts),
                values=row.tolist(),
            )
            records.append((int(ts), forecaster, vector.SerializeToString()))
    records.sort(key=lambda record: record[0])

    def run(chunk: list[tuple[int, QuantileForecaster, bytes]]) -> None:
        issues = []
        for _ts, model, data in chunk:
            msg = features_pb2.FeatureVector.FromString(data)
            values = vector_values(msg)
            assert values is not None
            issues.append(Issue(msg.series_id, msg.region, msg.field, msg.ts_ms, values, model))
        for made in forecast_batch(issues):
            made.SerializeToString()

    run(records[:batch])  # warm caches
    start, cpu = time.perf_counter(), time.process_time()
    for first in range(0, len(records), batch):
        run(records[first : first + batch])
    wall, spent = time.perf_counter() - start, time.process_time() - cpu
    return len(records) / wall, len(records) / spent, len(records)


if __name__ == "__main__":
    main()
