"""``gridstream verify exactly-once``: a clean run and a faulty run of the same data, compared.

Both runs replay the same slice of recorded data through the same services on one temporary
broker (or 3-node cluster), each with its own topic names and empty state changelogs
(``broker.py``), so neither sees the other's records, offsets or state. The faulty run kills
random services with SIGKILL at random moments of the replay window (the clean run's replay
time) and restarts them at once; optionally the broker is restarted, or one node of a 3-node
cluster is killed. Then every output topic is compared record by record (``compare.py``).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from gridstream.errors import ConfigError
from gridstream.verify.broker import temporary_cluster
from gridstream.verify.compare import compare_runs
from gridstream.verify.data_slice import DEFAULT_DAYS, DEFAULT_REGIONS, DEFAULT_START, write_slice
from gridstream.verify.faults import Fault, plan_faults
from gridstream.verify.identity import topic_explainers
from gridstream.verify.processes import VerifyError
from gridstream.verify.run import PipelineRun, RunConfig, RunResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExactlyOnceOptions:
    data: Path
    services: tuple[str, ...]
    kills: int = 3
    broker_restart: bool = False
    nodes: int = 1
    kill_broker: bool = False
    start: date = DEFAULT_START
    days: int = DEFAULT_DAYS
    regions: tuple[str, ...] = DEFAULT_REGIONS
    replay_s: float = 40.0  # how long the paced replay of the slice takes (data time / speed)
    seed: int = 0
    quiet_s: float = 5.0
    keep: Path | None = None  # keep the run folders (logs) here instead of deleting them
    models: Path | None = None  # a model registry copied into both runs' state directories


def _check(options: ExactlyOnceOptions) -> None:
    if options.kill_broker and options.nodes < 3:
        raise ConfigError("--kill-broker needs --nodes 3 (one node down, RF 3, min.insync 2)")
    if options.broker_restart and options.nodes != 1:
        raise ConfigError("--broker-restart restarts the single broker: use it without --nodes")
    if options.kills < 0:
        raise ConfigError("--kills must be 0 or more")
    if options.replay_s <= 0:
        raise ConfigError("--replay-seconds must be positive")


def _run_summary(result: RunResult) -> dict[str, Any]:
    return {
        "replay_s": result.replay_s,
        "total_s": result.total_s,
        "settled": result.settled,
        "counts": result.counts,
        "processes": result.processes,
        "faults": result.faults,
    }


@dataclass
class PairResult:
    clean: RunResult
    faulty: RunResult
    rows: int
    speed: float


def run_pair(
    options: ExactlyOnceOptions,
    make_faults: Callable[[float], list[Fault]],
    faulty_instances: Mapping[str, int] | None = None,
    on_faulty: Callable[[PipelineRun], None] | None = None,
) -> PairResult:
    """The clean run, then the faulty run with ``make_faults(replay window)``; both on one
    temporary cluster; everything under a temporary folder that is deleted afterwards."""
    if options.keep is not None:
        options.keep.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="gridstream-verify-", dir=options.keep))
    try:
        data = write_slice(
            options.data, root / "data", options.start, options.days, options.regions
        )
        speed = data.span_s / options.replay_s
        tag = uuid.uuid4().hex[:8]

        def config(name: str, instances: Mapping[str, int] | None = None) -> RunConfig:
            return RunConfig(
                services=options.services,
                replay_path=data.path,
                speed=speed,
                prefix=f"verify-{tag}-{name}-",
                nodes=options.nodes,
                instances=dict(instances or {}),
                quiet_s=options.quiet_s,
                models=options.models,
            )

        with temporary_cluster(root / "broker", options.nodes) as cluster:
            log.info("clean run: %d rows, %s", data.rows, ", ".join(options.services))
            with PipelineRun(root / "clean", config("clean"), cluster) as run:
                clean = run.replay()
            if not clean.counts:
                raise VerifyError(f"the clean run produced nothing: see the logs under {root}")
            faults = make_faults(clean.replay_s or options.replay_s)
            log.info(
                "faulty run: %s", ", ".join(f"{f.kind} {f.target}@{f.at_s:.1f}s" for f in faults)
            )
            with PipelineRun(root / "faulty", config("faulty", faulty_instances), cluster) as run:
                faulty = run.replay(faults, expected=clean.counts)
                if on_faulty is not None:
                    on_faulty(run)
        return PairResult(clean, faulty, data.rows, speed)
    finally:
        if options.keep is None:
            shutil.rmtree(root, ignore_errors=True)


def pair_report(options: ExactlyOnceOptions, pair: PairResult) -> dict[str, Any]:
    comparison = compare_runs(pair.clean.outputs, pair.faulty.outputs, topic_explainers())
    return {
        **comparison.summary(),
        "services": list(options.services),
        "data": {
            "path": str(options.data),
            "start": options.start.isoformat(),
            "days": options.days,
            "regions": list(options.regions),
            "rows": pair.rows,
            "speed": round(pair.speed, 1),
        },
        "seed": options.seed,
        "clean_run": _run_summary(pair.clean),
        "faulty_run": _run_summary(pair.faulty),
    }


def verify_exactly_once(options: ExactlyOnceOptions) -> dict[str, Any]:
    """Run both runs and return the report (``expected``, ``lost``, ... ``topics``)."""
    _check(options)

    def faults(window_s: float) -> list[Fault]:
        return plan_faults(
            options.services,
            options.kills,
            window_s,
            options.seed,
            broker_restart=options.broker_restart,
            kill_broker_nodes=options.nodes if options.kill_broker else 0,
        )

    report = pair_report(options, run_pair(options, faults))
    report.update(
        kills=options.kills,
        broker_restart=options.broker_restart,
        nodes=options.nodes,
        kill_broker=options.kill_broker,
    )
    return report
