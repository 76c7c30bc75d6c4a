"""``gridstream verify scale-out``: two instances of a service in one consumer group.

The clean run has one instance of every service. In the faulty run the chosen service runs as
two instances (``GRIDSTREAM_INSTANCE_ID`` 0 and 1: same consumer group, own transactional
ids) that split the partitions; instance 1 is SIGKILLed mid-replay and not restarted, so
instance 0 must take over its partitions and restore their keyed state from the changelog.
The outputs are compared with the clean run's like ``exactly-once`` does, and each
instance's partition assignments (from its log) show the hand-over happened.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from gridstream.errors import ConfigError
from gridstream.verify.data_slice import DEFAULT_REGIONS, DEFAULT_START
from gridstream.verify.exactly_once import ExactlyOnceOptions, pair_report, run_pair
from gridstream.verify.faults import Fault
from gridstream.verify.pipeline import INGESTOR, resolve_services
from gridstream.verify.run import PipelineRun

_ASSIGNED = re.compile(r"(?P<service>smart-[a-z-]+) assigned (?P<parts>.*)$")


@dataclass(frozen=True)
class ScaleOutOptions:
    data: Path
    service: str = "smart-preprocessor"
    start: date = DEFAULT_START
    days: int = 3
    regions: tuple[str, ...] = DEFAULT_REGIONS
    replay_s: float = 30.0
    seed: int = 0
    quiet_s: float = 5.0
    keep: Path | None = None


def assignments(log_text: str, service: str) -> list[list[str]]:
    """The successive partition assignments a runner logged (``<service> assigned a[0], ...``)."""
    found = []
    for line in log_text.splitlines():
        m = _ASSIGNED.search(line)
        if m and m.group("service") == service:
            found.append([p.strip() for p in m.group("parts").split(",") if p.strip()])
    return found


def verify_scale_out(options: ScaleOutOptions) -> dict[str, Any]:
    (service,) = resolve_services(options.service)[-1:]
    if service == INGESTOR:
        raise ConfigError("--service: the ingestor is a source, not a consumer group member")
    chain = resolve_services(None)
    upstream = chain[: chain.index(service) + 1] if service in chain else (INGESTOR, service)
    base = ExactlyOnceOptions(
        data=options.data,
        services=tuple(upstream),
        kills=0,
        start=options.start,
        days=options.days,
        regions=options.regions,
        replay_s=options.replay_s,
        seed=options.seed,
        quiet_s=options.quiet_s,
        keep=options.keep,
    )
    rng = random.Random(options.seed)
    history: dict[str, list[list[str]]] = {}

    def faults(window_s: float) -> list[Fault]:
        at = rng.uniform(0.3, 0.7) * window_s
        return [Fault(at, "kill", f"{service}#1", restart=False)]

    def collect(run: PipelineRun) -> None:
        for instance in ("0", "1"):
            proc = run.process(f"{service}#{instance}" if instance != "0" else service)
            text = proc.log_file.read_text(errors="replace") if proc.log_file.exists() else ""
            history[instance] = assignments(text, service)

    pair = run_pair(base, faults, faulty_instances={service: 2}, on_faulty=collect)
    report = pair_report(base, pair)
    first = {i: (h[0] if h else []) for i, h in history.items()}
    last = {i: (h[-1] if h else []) for i, h in history.items()}
    shared = bool(first.get("1")) and bool(history.get("0"))
    took_over = set(last.get("0", [])) >= {p for h in history.get("1", []) for p in h}
    report.update(
        service=service,
        instances=2,
        assignments=history,
        partitions_shared=shared,
        handed_over=took_over,
    )
    report["ok"] = bool(report["ok"] and shared and took_over)
    return report
