"""Admin helpers: reachability, cluster description, topic creation and listing."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from gridstream.bus.client_logs import client_logger
from gridstream.bus.settings import KafkaSettings
from gridstream.bus.topics import TopicSpec
from gridstream.errors import BrokerError, KafkaAuthError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterInfo:
    cluster_id: str | None
    brokers: list[str]
    topics: dict[str, int]  # name -> partition count


class Admin:
    """A thin, typed wrapper around confluent_kafka's AdminClient."""

    def __init__(self, settings: KafkaSettings, quiet: bool = False) -> None:
        conf: dict[str, Any] = dict(settings.client_config())
        conf["socket.connection.setup.timeout.ms"] = 20000
        self._auth_error: str | None = None
        conf["error_cb"] = self._on_error
        if quiet:
            # probing a broker that is still starting: connection-refused noise is expected
            conf["log_level"] = 2
        else:
            conf["logger"] = client_logger()
        self._client = AdminClient(conf)

    def _on_error(self, err: KafkaError) -> None:
        if err.code() in (KafkaError._AUTHENTICATION, KafkaError._SSL):
            self._auth_error = err.str()

    def _raise_auth(self) -> None:
        if self._auth_error is not None:
            raise KafkaAuthError(
                f"Kafka refused the connection: {self._auth_error}. Check "
                "GRIDSTREAM_SASL_USERNAME, GRIDSTREAM_SASL_PASSWORD(_FILE), "
                "GRIDSTREAM_SECURITY_PROTOCOL and "
                "GRIDSTREAM_SSL_CA_LOCATION"
            )

    def describe(self, timeout: float = 5.0) -> ClusterInfo:
        """Cluster id, brokers and topics from one metadata request; raises BrokerError."""
        try:
            md = self._client.list_topics(timeout=timeout)
        except KafkaException as exc:
            self._client.poll(0.5)  # serve error callbacks: an authentication failure shows there
            self._raise_auth()
            raise BrokerError(f"Kafka did not answer a metadata request: {exc}") from exc
        brokers = [f"{b.id}@{b.host}:{b.port}" for b in md.brokers.values()]
        topics = {
            name: len(t.partitions) for name, t in md.topics.items() if not name.startswith("__")
        }
        return ClusterInfo(md.cluster_id, sorted(brokers), dict(sorted(topics.items())))

    def reachable(self, timeout: float = 2.0) -> bool:
        try:
            info = self.describe(timeout=timeout)
        except BrokerError:
            return False
        return bool(info.brokers)

    def wait_until_reachable(self, timeout: float = 60.0, expect_brokers: int = 1) -> ClusterInfo:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                info = self.describe(timeout=2.0)
                if len(info.brokers) >= expect_brokers:
                    return info
            except BrokerError as exc:
                last = exc
            time.sleep(0.3)
        raise BrokerError(f"Kafka not reachable after {timeout:.0f}s: {last}")

    def ensure_topics(self, specs: Iterable[TopicSpec], timeout: float = 30.0) -> list[str]:
        """Create the topics that do not exist yet; return the names created."""
        existing = set(self.describe(timeout=timeout).topics)
        wanted = [s for s in specs if s.name not in existing]
        if not wanted:
            return []
        futures = self._client.create_topics(
            [
                NewTopic(
                    s.name,
                    num_partitions=s.partitions,
                    replication_factor=s.replication_factor,
                    config=dict(s.config),
                )
                for s in wanted
            ],
            operation_timeout=timeout,
        )
        created = []
        for name, fut in futures.items():
            try:
                fut.result(timeout=timeout)
                created.append(name)
            except KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" in str(exc):
                    continue
                raise BrokerError(f"could not create topic {name}: {exc}") from exc
        self._wait_for_leaders(created, timeout)
        log.info("created topics %s", ", ".join(created))
        return created

    def _wait_for_leaders(self, names: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            md = self._client.list_topics(timeout=5.0)
            ready = all(
                n in md.topics
                and md.topics[n].error is None
                and all(p.leader >= 0 for p in md.topics[n].partitions.values())
                for n in names
            )
            if ready:
                return
            time.sleep(0.2)
        raise BrokerError(f"topics {names} have no leaders after {timeout:.0f}s")

    def delete_topics(self, names: list[str], timeout: float = 30.0) -> None:
        if not names:
            return
        for fut in self._client.delete_topics(names, operation_timeout=timeout).values():
            try:
                fut.result(timeout=timeout)
            except KafkaException as exc:
                if "UNKNOWN_TOPIC" not in str(exc):
                    raise BrokerError(f"could not delete topics {names}: {exc}") from exc
