"""Which services a verification runs by default, and the environment each process gets.

The default chain is the whole pipeline, all nine services. Every one of them derives its
outputs from its input records and its keyed state only, on event time (issue 22):

- the joins wait by watermark for the records they combine, within a bounded grace (the
  detector: a reading at t with the forecast of origin t - H; storage: the forecasts of
  origin t; the rebalancer: forecasts, schedule and anomaly verdicts of t), and a decision made
  past the grace says which input was missing;
- the alert engine's timers run on the series' own event clock, and silences and acks are
  commands on a topic;
- the trainer decides at data-time checkpoints, names model versions after their training
  data and settings, and the forecaster follows its decisions in event time;
- the ml-preprocessor waits for a reading's demand/wind peers by the data alone.

In live mode (``GRIDSTREAM_CLOCK=live``) the wall clock may move an idle input on, and the
record says so; a verification replays with the event clock, so two runs over the same data
must agree record for record. ``--services`` narrows the chain.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from gridstream.bus.topics import TopicNames
from gridstream.errors import ConfigError
from gridstream.services.registry import SERVICE_MODULES

INGESTOR = "smart-ingestor"
TRAINER = "smart-model-trainer"
ALERT_ENGINE = "smart-alert-engine"
DEFAULT_CHAIN = (
    "smart-ingestor",
    "smart-preprocessor",
    "smart-ml-preprocessor",
    "smart-model-trainer",
    "smart-ml-forecaster",
    "smart-anomaly-detector",
    "smart-alert-engine",
    "smart-storage-optimizer",
    "smart-grid-rebalancer",
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
    ``services``, the forecaster follows its decisions in event time; without the alert
    engine, the rebalancer does not wait for its feed)."""
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
    if services and ALERT_ENGINE not in services:  # no alert feed: decisions cannot wait for it
        env["GRIDSTREAM_REBALANCER_ALERT_FIELDS"] = ""
    return env
