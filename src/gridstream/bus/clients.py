"""The Kafka clients a runner uses: their configuration, and which faults new clients cure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from gridstream.bus.client_logs import client_logger
from gridstream.bus.runner_config import RunnerConfig
from gridstream.bus.settings import FAST_TXN_RETRY, KafkaSettings
from gridstream.errors import BrokerError

ErrorCallback = Callable[[KafkaError], None]

#: a producer fenced by another instance with the same transactional id must not fight back
FENCED = {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}


def replaceable(exc: KafkaException) -> bool:
    """A fatal client error that new clients cure (anything but being fenced)."""
    err = exc.args[0] if exc.args else None
    return bool(err is not None and err.fatal() and err.code() not in FENCED)


def client_conf(
    kafka: KafkaSettings, config: RunnerConfig, suffix: str, on_error: ErrorCallback
) -> dict[str, Any]:
    conf: dict[str, Any] = dict(kafka.client_config())
    conf["client.id"] = f"{config.service}-{config.instance_id}-{suffix}"
    conf["logger"] = client_logger()
    conf["error_cb"] = on_error
    return conf


def consumer_conf(
    kafka: KafkaSettings, config: RunnerConfig, on_error: ErrorCallback
) -> dict[str, Any]:
    """The group consumer's settings: manual commits, committed reads only."""
    conf = client_conf(kafka, config, "consumer", on_error)
    conf.update(
        {
            "group.id": config.group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 2000,
            "max.poll.interval.ms": 300000,
            "fetch.wait.max.ms": config.fetch_wait_ms,
            # notice topics created after subscribing within seconds, not minutes
            "topic.metadata.refresh.interval.ms": 10000,
            # pre-fetch at most 8 MiB (default 64 MiB): a batch is 5,000 small records
            "queued.max.messages.kbytes": 8192,
        }
    )
    return conf


def new_producer(kafka: KafkaSettings, config: RunnerConfig, on_error: ErrorCallback) -> Any:
    """An idempotent producer; a transactional one, initialised, in exactly-once mode."""
    exactly_once = config.guarantee == "exactly_once"
    pconf = client_conf(kafka, config, "producer", on_error)
    pconf.update(
        {"enable.idempotence": True, "acks": "all", "linger.ms": 5, "compression.type": "lz4"}
    )
    if exactly_once:
        pconf.update(FAST_TXN_RETRY)
        pconf["transactional.id"] = f"{config.group}-{config.instance_id}"
        pconf["transaction.timeout.ms"] = 60000
    producer = Producer(pconf)
    if exactly_once:
        try:
            producer.init_transactions(60)
        except KafkaException as exc:
            raise BrokerError(f"{config.service}: cannot initialise transactions: {exc}") from exc
    return producer
