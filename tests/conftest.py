"""Shared fixtures: a REAL local Kafka broker per test session, random topic and group names.

The broker is started by the same code as ``gridstream broker start`` (LocalCluster), on a
free port with a temporary data directory. ``GRIDSTREAM_BOOTSTRAP`` points the tests at an
existing cluster instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data; skips the test when the data is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} is missing (clone with ../shared beside it)")
    return path


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("GRIDSTREAM_BOOTSTRAP")
    if external:
        yield external
        return
    from gridstream.broker.cluster import LocalCluster
    from gridstream.broker.ports import free_ports

    cluster = LocalCluster(tmp_path_factory.mktemp("kafka"), port=free_ports(1)[0])
    state = cluster.start()
    try:
        yield state.bootstrap
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def kafka_settings(kafka_bootstrap: str):  # type: ignore[no-untyped-def]
    from gridstream.bus.settings import KafkaSettings

    return KafkaSettings(bootstrap=kafka_bootstrap, client_id="gridstream-tests")


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Random names for topics and groups so tests never collide."""

    def make(prefix: str) -> str:
        return f"test-{prefix}-{uuid.uuid4().hex[:10]}"

    return make


@pytest.fixture
def topic_factory(kafka_settings, unique):  # type: ignore[no-untyped-def]
    from gridstream.bus.admin import Admin
    from gridstream.bus.topics import TopicSpec

    admin = Admin(kafka_settings)
    created: list[str] = []

    def make(prefix: str = "t", partitions: int = 3, config: dict[str, str] | None = None) -> str:
        name = unique(prefix)
        admin.ensure_topics([TopicSpec(name, partitions, 1, config or {})])
        created.append(name)
        return name

    yield make
    admin.delete_topics(created)
