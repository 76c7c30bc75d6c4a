"""``gridstream verify scale-out``: two instances of a service in one consumer group.

The clean run has one instance of every service. In the faulty run the chosen service runs as
two instances (``GRIDSTREAM_INSTANCE_ID`` 0 and 1: same consumer group, own transactional
ids) that split the partitions; instance 1 is SIGKILLed mid-replay and not restarted, so
instance 0 must take over its partitions and restore their keyed state from the changelog.
The outputs are compared with the clean run's like ``exactly-once`` does, and each
instance's partition assignments (from its log) show the hand-over happened.

``--service downstream`` scales every downstream service of the chain at once (two instances
each, each pair's instance 1 killed at its own moment). The rebalancer, the alert engine and
the trainer run as one instance by design (see ``gridstream.bench.instances``), so they stay
single there: the report lists them under ``singletons``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from gridstream.bench.instances import SINGLETONS
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


def scaled_services(option: str) -> tuple[str, ...]:
    """``--service``: one service, a comma-separated list, or ``downstream`` (every service
    of the default chain after the ingestor that can run as several instances)."""
    if option.strip() == "downstream":
        return tuple(s for s in resolve_services(None) if s != INGESTOR and s not in SINGLETONS)
    names = tuple(s for s in resolve_services(option) if s != INGESTOR)
    if not names:
        raise ConfigError("--service: the ingestor is a source, not a consumer group member")
    single = [s for s in names if s in SINGLETONS]
    if single:
        raise ConfigError(f"--service: {', '.join(single)} runs as one instance by design")
    return names


def verify_scale_out(options: ScaleOutOptions) -> dict[str, Any]:
    services = scaled_services(options.service)
    chain = resolve_services(None)
    if len(services) == 1 and services[0] not in chain:
        upstream: tuple[str, ...] = (INGESTOR, services[0])
    elif len(services) == 1:
        upstream = chain[: chain.index(services[0]) + 1]
    else:  # the whole chain, so every scaled service has its inputs and its readers
        upstream = tuple(dict.fromkeys([*chain, *services]))
    base = ExactlyOnceOptions(
        data=options.data,
        services=upstream,
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
    history: dict[str, dict[str, list[list[str]]]] = {}

    def faults(window_s: float) -> list[Fault]:
        return [
            Fault(rng.uniform(0.3, 0.7) * window_s, "kill", f"{s}#1", restart=False)
            for s in services
        ]

    def collect(run: PipelineRun) -> None:
        for service in services:
            history[service] = {}
            for instance in ("0", "1"):
                proc = run.process(f"{service}#{instance}" if instance != "0" else service)
                path = proc.log_file
                text = path.read_text(errors="replace") if path.exists() else ""
                history[service][instance] = assignments(text, service)

    pair = run_pair(base, faults, faulty_instances=dict.fromkeys(services, 2), on_faulty=collect)
    report = pair_report(base, pair)
    per_service = {s: _hand_over(history.get(s, {})) for s in services}
    report["services_scaled"] = per_service
    report["singletons"] = [s for s in upstream if s in SINGLETONS]
    if len(services) == 1:
        report.update(service=services[0], instances=2, **per_service[services[0]])
    report["ok"] = bool(
        report["ok"]
        and all(v["partitions_shared"] and v["handed_over"] for v in per_service.values())
    )
    return report


def _hand_over(history: dict[str, list[list[str]]]) -> dict[str, Any]:
    """Whether both instances had partitions and instance 0 ended with instance 1's."""
    last = {i: (h[-1] if h else []) for i, h in history.items()}
    shared = bool(history.get("1") and history["1"][0]) and bool(history.get("0"))
    took_over = set(last.get("0", [])) >= {p for h in history.get("1", []) for p in h}
    return {
        "assignments": history,
        "partitions_shared": shared,
        "handed_over": took_over,
    }
