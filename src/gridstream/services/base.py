"""The common wiring of a consume -> process -> produce service (no copy per service)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TypeVar

from fastapi import APIRouter

from gridstream.bus.processor import Processor
from gridstream.bus.runner import Runner, RunnerConfig
from gridstream.bus.topics import TopicSpec, topic_specs
from gridstream.config import Settings
from gridstream.services.host import ServiceParts

T = TypeVar("T")


def consumer_group(service: str) -> str:
    return f"gridstream-{service}"


def make_runner(
    settings: Settings, service: str, processor: Processor[T], group: str | None = None
) -> Runner[T]:
    """A runner for ``service`` configured from the settings (guarantee, batch, instance).

    ``group`` replaces the service's consumer group (tools and tests that must not share its
    offsets and state changelog)."""
    config = RunnerConfig(
        service=service,
        group=group or consumer_group(service),
        dead_letter_topic=settings.topics.dead_letter,
        guarantee=settings.processing_guarantee,
        instance_id=settings.instance_id,
        batch_size=settings.batch_size,
        batch_linger_s=settings.batch_linger_ms / 1000,
        fetch_wait_ms=settings.fetch_wait_ms,
        state_partitions=settings.topic_partitions,
        state_replication=settings.topic_replication,
        ensure_topics=tuple(
            topic_specs(settings.topics, settings.topic_partitions, settings.topic_replication)
        ),
    )
    return Runner(settings.kafka(client_id=service), config, processor)


def runner_service(
    settings: Settings,
    service: str,
    processor: Processor[T],
    routers: Sequence[APIRouter] = (),
) -> tuple[ServiceParts, Runner[T]]:
    """ServiceParts for a runner-based service, plus the runner (for routers that need it)."""
    runner = make_runner(settings, service, processor)
    parts = ServiceParts(
        name=service,
        worker=runner,
        health=runner.health.snapshot,
        registry=runner.registry,
        routers=list(routers),
    )
    return parts, runner


def ensure_internal_topic(runner: Runner[T], spec: TopicSpec) -> None:
    """Have the runner create one of the service's internal topics at start, as its own."""
    runner.config = replace(runner.config, ensure_topics=(*runner.config.ensure_topics, spec))
