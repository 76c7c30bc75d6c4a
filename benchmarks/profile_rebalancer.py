"""CPU of the grid rebalancer's processing code over a recorded span, with no broker.

Run: PYTHONPATH=src .venv/bin/python benchmarks/profile_rebalancer.py --start 2022-01-01
     --days 30 [--regions ALL] [--batch 200] [--profile /tmp/rebalancer.prof]

The rebalancer's inputs are made from the recorded EirGrid files of the span (not timed), as
the pipeline would make them before the trainer has a model:

- the seasonal-naive forecasts of ``profile_storage.py``, of demand, wind, CO2 and SNSP;
- the storage schedules the optimiser plans on them (its processor driven as in
  ``profile_storage.py``; ``solve_ms``, the solver's wall time, cleared so that the inputs
  depend on the data alone);
- a verdict per reading of those series, "normal" (what the detector publishes for a
  reading it does not flag: the rebalancer reads the demand value and clears suspects);
- the alert engine's feed watermark per reading of each series the rebalancer's default
  ``ALERT_FIELDS`` makes a decision wait for (no alert fires).

Per quarter-hour, the verdicts and watermarks of its readings come first, then its forecasts,
each followed by the schedules it completed. Every record is keyed as its producer keys it
and sent to one of 3 partitions by librdkafka's default partitioner (as ``profile_stages``).

The timed part is what the rebalancer's runner does with them: decode each record, ``process``
it with its partition's state, encode every output, and at the end of every ``--batch``
records ``punctuate`` and write the changed state entries with the service's codec. The
processor has the service's default settings (advisory mode, limits, interconnectors, the
forecaster's default fields) and an empty action trail.

Prints one JSON line: CPU seconds of the timed part, records in, actions published, CPU ms
per decided origin, and SHA-256 digests of every output record (topic, key, bytes, in order)
and of the changelog entries (partition, key and bytes, in order).
"""

from __future__ import annotations

import argparse
import heapq
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
from google.protobuf.message import Message
from profile_stages import PARTITIONS, partition_of
from profile_storage import (
    WEEK_SLOTS,
    Digest,
    Span,
    Stages,
    comparable,
    forecasts_of,
    grid,
    parse_args,
    report,
    summary,
)

from gridstream.bus.alert_feed import alert_feed_topic, watermark
from gridstream.bus.processor import InRecord
from gridstream.bus.serde import decode, encode
from gridstream.bus.state import StateView
from gridstream.bus.topics import TopicNames
from gridstream.schemas.anomaly_pb2 import Anomaly
from gridstream.schemas.rebalance_pb2 import RebalanceAction
from gridstream.schemas.storage_pb2 import StorageSchedule
from gridstream.services.grid_rebalancer.context import FIELD_SERIES, Entry
from gridstream.services.grid_rebalancer.join_inputs import JoinInputs
from gridstream.services.grid_rebalancer.service import (
    GridRebalancerProcessor,
    RebalancerSettings,
    configured_processor,
)

FIELDS = tuple(FIELD_SERIES)  # the series the rebalancer reads
#: one record as the runner receives it: topic, partition, key, value bytes, message type
Wire = tuple[str, int, str, bytes, type[Message]]


def wire(topic: str, key: str, message: Message) -> Wire:
    return topic, partition_of(key), key, encode(message)[0], type(message)


def processor(topics: TopicNames) -> GridRebalancerProcessor:
    """The processor the service builds with its default settings (no broker, no webhook)."""
    return configured_processor(topics, RebalancerSettings(), list)


def _readings(
    topics: TopicNames, join: JoinInputs, times: np.ndarray, grids: dict[str, np.ndarray]
) -> Iterator[tuple[int, int, list[Wire]]]:
    """Per quarter-hour of the span with readings: their verdicts and alert watermarks."""
    awaited = {
        sid for region in {s.partition("/")[0] for s in grids} for sid in join.alert_series(region)
    }
    for at in range(WEEK_SLOTS, len(times)):
        ts = int(times[at])
        records: list[Wire] = []
        for series_id, values in sorted(grids.items()):
            if not np.isfinite(values[at]):
                continue
            region, _, field = series_id.partition("/")
            verdict = Anomaly(
                record_id=f"{series_id}@{ts}",
                series_id=series_id,
                region=region,
                field=field,
                ts_ms=ts,
                value=float(values[at]),
                label="normal",
            )
            records.append(wire(topics.anomalies, series_id, verdict))
            if series_id in awaited:
                records.append(wire(alert_feed_topic(topics), region, watermark(series_id, ts)))
        if records:
            yield ts, 0, records


def _forecasts(
    topics: TopicNames, args: argparse.Namespace, times: np.ndarray, grids: dict[str, np.ndarray]
) -> Iterator[tuple[int, int, list[Wire]]]:
    """Each forecast, followed by the storage schedules that it completed."""
    stages = Stages(args.objective, args.robustness)
    for forecast in forecasts_of(times, grids):
        records = [wire(topics.forecasts, forecast.series_id, forecast)]
        for out in stages.handle(topics.forecasts, encode(forecast)[0]):
            for regional in stages.handle(out.topic, encode(out.value)[0]):
                if isinstance(regional.value, StorageSchedule):
                    data = comparable(regional.value)
                    key = regional.key
                    records.append((topics.storage, partition_of(key), key, data, StorageSchedule))
        yield forecast.issue_time_ms, 1, records


def inputs(args: argparse.Namespace, span: Span) -> list[Wire]:
    """The rebalancer's input records of the span, in the order the pipeline makes them."""
    topics = TopicNames()
    times, grids = grid(args.data, span, FIELDS)
    join = processor(topics).join
    merged = heapq.merge(
        _readings(topics, join, times, grids),
        _forecasts(topics, args, times, grids),
        key=lambda item: item[:2],
    )
    return [record for _, _, records in merged for record in records]


def run(records: list[Wire], args: argparse.Namespace) -> dict[str, Any]:
    topics = TopicNames()
    proc = processor(topics)
    codec = proc.state_codec
    assert codec is not None
    states: dict[int, StateView[Entry]] = {p: StateView(p) for p in range(PARTITIONS)}
    headers = {kind: list(encode(kind())[1]) for kind in {r[4] for r in records}}
    outputs, changelog = Digest(), Digest()
    actions = 0
    cpu = time.process_time()
    wall = time.perf_counter()

    def publish(out: Any) -> None:
        nonlocal actions
        actions += isinstance(out.value, RebalanceAction)
        outputs.add(out.topic.encode(), out.key.encode(), encode(out.value)[0])

    def flush() -> None:
        for out in proc.punctuate(0, states):
            publish(out)
        for p, view in states.items():
            for key, entry in view.take_dirty():
                changelog.add(
                    str(p).encode(), key.encode(), b"" if entry is None else codec.to_bytes(entry)
                )

    flush()  # the runner punctuates with its views before the first record
    for n, (topic, partition, key, data, kind) in enumerate(records, 1):
        value = decode(data, headers[kind], kind)
        for out in proc.process(InRecord(topic, partition, n, key, value, 0), states[partition]):
            publish(out)
        if n % args.batch == 0 or n == len(records):
            flush()
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    decided = sum(1 for r in records if r[4] is StorageSchedule)
    kinds = {k.__name__: sum(1 for r in records if r[4] is k) for k in headers}
    return {
        **summary(len(records), decided, cpu, wall, outputs, changelog),
        "actions": actions,
        "records": dict(sorted(kinds.items())),
    }


def main() -> None:
    args, span = parse_args(__doc__.splitlines()[0])
    report(args, run, inputs(args, span))


if __name__ == "__main__":
    main()
