"""The root of every error GridStream raises on purpose; messages say what to do."""

from __future__ import annotations


class GridstreamError(Exception):
    """Base class of GridStream's own errors."""


class ConfigError(GridstreamError):
    """A setting is missing or invalid."""


class BrokerError(GridstreamError):
    """The local Kafka broker could not be fetched, started, reached or stopped."""


class KafkaAuthError(BrokerError):
    """The cluster refused our credentials or TLS setup: retrying will not help."""


class SerdeError(GridstreamError):
    """A record could not be encoded or decoded."""


class WrongMessageType(SerdeError):
    """A record holds another message type than the one expected."""


class ValidationError(GridstreamError):
    """A record decoded but failed validation; it belongs in the dead-letter topic."""
