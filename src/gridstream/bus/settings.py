"""Kafka connection settings and the librdkafka configuration built from them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


#: Producer properties for transactions that follow each other closely. Right after a
#: commit the coordinator is still writing the markers and answers the next transaction's
#: first request with CONCURRENT_TRANSACTIONS; librdkafka retries after ``retry.backoff.ms``,
#: 100 ms by default, which at a live rate added ~100 ms to every hop (measured: one
#: consume-transform-produce hop at 100 records/s, p50 170 ms -> 6 ms with 2 ms). The backoff
#: still grows exponentially to ``retry.backoff.max.ms`` while a broker is away.
FAST_TXN_RETRY: dict[str, int] = {"retry.backoff.ms": 2, "retry.backoff.max.ms": 1000}

#: Start again from ``bootstrap.servers`` when no known broker has answered a metadata
#: request for this long (librdkafka's default: 5 minutes). librdkafka (since 2.10) forgets a
#: broker that a metadata response leaves out, and a broker in controlled shutdown is left
#: out; when the only broker restarts, a client can be left knowing no broker at all, with
#: its partition leaders unknown until the re-bootstrap (``gridstream verify --broker-restart``
#: showed messages held until their 60 s timeout). The coordinator hang that this alone does
#: not cure is handled by the runner (``bus/txn_retry.py``).
REBOOTSTRAP_AFTER_MS = 5_000


class KafkaSettings(BaseModel):
    """How to reach the cluster. Secrets are ``SecretStr`` and never appear in logs or repr."""

    model_config = ConfigDict(frozen=True)

    bootstrap: str = "127.0.0.1:9092"
    client_id: str = "gridstream"
    security_protocol: SecurityProtocol = "PLAINTEXT"
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    ssl_key_password: SecretStr | None = None
    ssl_endpoint_identification: bool = True
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None

    def client_config(self) -> dict[str, str | int | bool]:
        """librdkafka properties common to producers, consumers and admin clients."""
        conf: dict[str, str | int | bool] = {
            "bootstrap.servers": self.bootstrap,
            "client.id": self.client_id,
            "security.protocol": self.security_protocol.lower(),
            "metadata.recovery.rebootstrap.trigger.ms": REBOOTSTRAP_AFTER_MS,
        }
        if self.security_protocol in ("SSL", "SASL_SSL"):
            if self.ssl_ca_location:
                conf["ssl.ca.location"] = self.ssl_ca_location
            if self.ssl_certificate_location:
                conf["ssl.certificate.location"] = self.ssl_certificate_location
            if self.ssl_key_location:
                conf["ssl.key.location"] = self.ssl_key_location
            if self.ssl_key_password is not None:
                conf["ssl.key.password"] = self.ssl_key_password.get_secret_value()
            conf["ssl.endpoint.identification.algorithm"] = (
                "https" if self.ssl_endpoint_identification else "none"
            )
        if self.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
            conf["sasl.mechanism"] = self.sasl_mechanism
            if self.sasl_username:
                conf["sasl.username"] = self.sasl_username
            if self.sasl_password is not None:
                conf["sasl.password"] = self.sasl_password.get_secret_value()
        return conf
