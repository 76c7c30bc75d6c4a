"""Producing from a source (the ingestor, tests, tools): idempotent, optionally transactional."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaException, Producer
from google.protobuf.message import Message

from gridstream.bus.client_logs import client_logger
from gridstream.bus.serde import encode
from gridstream.bus.settings import FAST_TXN_RETRY, KafkaSettings
from gridstream.bus.txn_retry import with_retries
from gridstream.errors import BrokerError

log = logging.getLogger(__name__)


class MessageProducer:
    """Produces protobuf messages with type headers, keyed by a string.

    With ``transactional_id`` every ``transaction()`` block is atomic: readers using
    ``read_committed`` see all of its records or none.
    """

    def __init__(
        self, kafka: KafkaSettings, transactional_id: str | None = None, linger_ms: int = 20
    ) -> None:
        conf: dict[str, Any] = dict(kafka.client_config())
        conf.update(
            {
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": linger_ms,
                "compression.type": "lz4",
                "logger": client_logger(),
                "queue.buffering.max.messages": 500000,
            }
        )
        if transactional_id:
            conf["transactional.id"] = transactional_id
            conf.update(FAST_TXN_RETRY)
        self._producer = Producer(conf)
        self.transactional = transactional_id is not None
        self.sent = 0
        if self.transactional:
            try:
                self._producer.init_transactions(60)
            except KafkaException as exc:
                raise BrokerError(f"cannot initialise transactions: {exc}") from exc

    def send(
        self,
        topic: str,
        key: str,
        message: Message,
        headers: Iterable[tuple[str, bytes]] = (),
        partition: int | None = None,
    ) -> None:
        """``partition``: that partition instead of the key's (e.g. one copy per partition)."""
        value, type_headers = encode(message)
        where: dict[str, Any] = {} if partition is None else {"partition": partition}
        while True:
            try:
                self._producer.produce(
                    topic,
                    value=value,
                    key=key.encode(),
                    headers=[*type_headers, *headers],
                    **where,
                )
                break
            except BufferError:
                self._producer.poll(0.1)  # local queue full: let it drain
        self._producer.poll(0)
        self.sent += 1

    def send_raw(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Iterable[tuple[str, bytes]] = (),
    ) -> None:
        """Produce bytes as they are (tests inject poison records with this)."""
        self._producer.produce(topic, value=value, key=key, headers=list(headers))
        self._producer.poll(0)

    def begin(self) -> None:
        self._producer.begin_transaction()

    def commit(self) -> None:
        with_retries(lambda: self._producer.commit_transaction(60), "committing a transaction")

    def abort(self) -> None:
        with_retries(lambda: self._producer.abort_transaction(60), "aborting a transaction")

    def flush(self, timeout: float = 60.0) -> None:
        remaining = self._producer.flush(timeout)
        if remaining:
            raise BrokerError(f"{remaining} records not delivered within {timeout:.0f}s")
