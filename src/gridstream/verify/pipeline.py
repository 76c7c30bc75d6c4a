"""Which services a verification runs by default, and the environment each process gets.

The default chain is the deterministic core of the pipeline, ingest -> clean -> features ->
forecast: every one of these services derives its outputs from its input records and its
keyed state only, in per-key (per-partition) order. The forecaster runs with the models in
the run's own state directory (empty: its seasonal-naive fallback, or a fixed registry copied
in with ``--models``) and the trainer is not run, so the model versions are the same in both
runs. The time-driven services (alert engine: resolve/expiry timers; storage optimizer and
rebalancer: punctuation every few seconds of wall time) and the services that join two topics
whose relative arrival order depends on timing (anomaly detector: readings vs forecasts) can
be added with ``--services``; their outputs are compared too, but a difference there may be
timing rather than a lost or duplicated record (the report lists differences per topic).

Known finding (reported, not hidden): ``ml_ready`` can differ between runs. The
ml-preprocessor releases a series' head when its next reading arrives even if its demand/wind
peers have not reached that slot yet, so the cross-series features (``x_demand``, ``x_wind``,
``x_net_demand``, ``x_wind_share``) depend on how readings of different partitions interleave
on the repartition topic, which changes when a restarted instance works off a backlog. No
record is lost or duplicated; the report names the differing fields.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from gridstream.bus.topics import TopicNames
from gridstream.errors import ConfigError
from gridstream.services.registry import SERVICE_MODULES

INGESTOR = "smart-ingestor"
TRAINER = "smart-model-trainer"
DEFAULT_CHAIN = (
    "smart-ingestor",
    "smart-preprocessor",
    "smart-ml-preprocessor",
    "smart-ml-forecaster",
)
SHORT_NAMES = {name.removeprefix("smart-"): name for name in SERVICE_MODULES}


def available(name: str) -> bool:
    """True when the service's module exists in this build."""
    return importlib.util.find_spec(SERVICE_MODULES[name]) is not None


def resolve_services(option: str | None) -> tuple[str, ...]:
    """``a,b,...`` (with or without ``smart-``) or the available default chain."""
    if not option:
        return tuple(s for s in DEFAULT_CHAIN if available(s))
    names = []
    for raw in option.split(","):
        raw = raw.strip()
        name = raw if raw in SERVICE_MODULES else SHORT_NAMES.get(raw, raw)
        if name not in SERVICE_MODULES or name == "dashboard":
            known = ", ".join(s for s in SERVICE_MODULES if s != "dashboard")
            raise ConfigError(f"--services: unknown service {raw!r}; choose from {known}")
        if not available(name):
            raise ConfigError(f"--services: {name} is not part of this build yet")
        names.append(name)
    if INGESTOR not in names:
        names.insert(0, INGESTOR)  # the replay source
    return tuple(dict.fromkeys(names))


def topic_env(topics: TopicNames) -> dict[str, str]:
    return {f"GRIDSTREAM_TOPICS__{k.upper()}": v for k, v in topics.all().items()}


def service_env(
    bootstrap: str,
    topics: TopicNames,
    state_dir: Path,
    replay_path: Path,
    speed: float | None,
    replication: int,
    services: tuple[str, ...] = (),
) -> dict[str, str]:
    """The environment of every service process of one run (with the trainer among
    ``services``, the forecaster follows its decisions in event time)."""
    env = {
        "GRIDSTREAM_BOOTSTRAP": bootstrap,
        "GRIDSTREAM_STATE_DIR": str(state_dir),
        "GRIDSTREAM_TOPIC_REPLICATION": str(replication),
        "GRIDSTREAM_PROCESSING_GUARANTEE": "exactly_once",
        "GRIDSTREAM_LOG_FORMAT": "text",
        "GRIDSTREAM_INGEST_SOURCE": "replay",
        "GRIDSTREAM_INGEST_REPLAY_PATH": str(replay_path),
        **topic_env(topics),
    }
    if speed is not None:
        env["GRIDSTREAM_INGEST_SPEED"] = f"{speed:g}"
    if TRAINER in services:
        env["GRIDSTREAM_FORECASTER_FOLLOW_TRAINER"] = "true"
    return env
