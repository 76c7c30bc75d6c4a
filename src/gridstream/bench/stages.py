"""The pipeline stages the benchmark runs, their inputs, and the topic chain of a reading."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from gridstream.bus.topics import TopicNames
from gridstream.services.registry import SERVICE_MODULES

INGESTOR = "smart-ingestor"


@dataclass(frozen=True)
class Stage:
    service: str
    inputs: tuple[str, ...]  # logical topic names (TopicNames fields)


#: consume->process->produce stages in topological order (upstream first)
STAGES: tuple[Stage, ...] = (
    Stage("smart-preprocessor", ("raw",)),
    Stage("smart-ml-preprocessor", ("preprocessed",)),
    Stage("smart-model-trainer", ("preprocessed",)),
    Stage("smart-ml-forecaster", ("ml_ready", "model_updates")),
    Stage("smart-anomaly-detector", ("ml_ready", "forecasts")),
    Stage("smart-storage-optimizer", ("forecasts",)),
    Stage("smart-alert-engine", ("anomalies", "system_events")),
    # (and the alert engine's internal feed of alerts by region, found by the topic prefix)
    Stage("smart-grid-rebalancer", ("forecasts", "storage", "anomalies")),
)

#: the longest path of a reading's consequences through the topics
CHAIN: tuple[str, ...] = (
    "raw",
    "preprocessed",
    "ml_ready",
    "forecasts",
    "anomalies",
    "alerts",
    "rebalance",
)


def available(stages: tuple[Stage, ...] = STAGES) -> tuple[list[Stage], list[str]]:
    """(stages whose service module exists, names of those that do not yet)."""
    have: list[Stage] = []
    missing: list[str] = []
    for stage in stages:
        if importlib.util.find_spec(SERVICE_MODULES[stage.service]) is not None:
            have.append(stage)
        else:
            missing.append(stage.service)
    return have, missing


def input_topics(stage: Stage, names: TopicNames) -> list[str]:
    topics = names.all()
    return [topics[logical] for logical in stage.inputs]


def hops(counts: dict[str, int], names: TopicNames) -> int:
    """Topics of the chain that carried records: what each reading costs the broker in turn."""
    topics = names.all()
    return sum(1 for logical in CHAIN if counts.get(topics[logical], 0) > 0)
