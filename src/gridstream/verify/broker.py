"""The temporary broker (or 3-node cluster) of a verification, and a clean slate between runs.

Both runs of a verification use one temporary cluster (starting Kafka is the slowest step),
with different topic prefixes. The runner services' consumer groups are fixed
(``gridstream-<service>``), and so are their state changelog topics: before each run those
changelogs are deleted and created empty again, so no run restores the state of another.
Committed offsets of the previous run concern other topic names and are never read.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path

from gridstream.broker.cluster import LocalCluster, jvm_flags
from gridstream.broker.ports import free_port_block
from gridstream.bus.admin import Admin
from gridstream.bus.settings import KafkaSettings
from gridstream.bus.state import changelog_topic
from gridstream.bus.topics import TopicSpec
from gridstream.errors import BrokerError
from gridstream.services.base import consumer_group
from gridstream.verify.pipeline import INGESTOR

log = logging.getLogger(__name__)


@contextlib.contextmanager
def temporary_cluster(state_dir: Path, nodes: int) -> Iterator[LocalCluster]:
    """A started local cluster of ``nodes`` nodes on free ports; stopped on exit."""
    from gridstream.config import load_settings

    jvm = jvm_flags(load_settings().broker.jvm_options)
    cluster = LocalCluster(state_dir, port=free_port_block(nodes), nodes=nodes, jvm_options=jvm)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop(timeout=30)


def kafka_of(cluster: LocalCluster) -> KafkaSettings:
    state = cluster.read_state()
    if state is None:
        raise BrokerError("the verification cluster is not running")
    return KafkaSettings(bootstrap=state.bootstrap, client_id="gridstream-verify")


def fresh_changelogs(
    kafka: KafkaSettings,
    services: tuple[str, ...],
    partitions: int,
    replication: int,
    timeout_s: float = 60.0,
) -> None:
    """Delete the services' state changelogs and create them again, empty."""
    admin = Admin(kafka)
    names = [changelog_topic(consumer_group(s)) for s in services if s != INGESTOR]
    existing = [n for n in names if n in admin.describe(10.0).topics]
    admin.delete_topics(existing)
    specs = [TopicSpec(n, partitions, replication, {"cleanup.policy": "compact"}) for n in names]
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if not set(existing) & set(admin.describe(10.0).topics):
                admin.ensure_topics(specs)
                return
        except BrokerError as exc:  # still marked for deletion
            if time.monotonic() > deadline:
                raise
            log.info("changelogs not recreated yet: %s", exc)
        if time.monotonic() > deadline:
            raise BrokerError(f"the changelogs {existing} were not deleted in {timeout_s:.0f}s")
        time.sleep(0.5)
