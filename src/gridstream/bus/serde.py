"""Protobuf serde: the value is the message, headers name its type and schema version.

Decoding checks the ``gs-type`` header against the expected message type, so a record of the
wrong type (or random bytes without headers) raises a typed error instead of parsing as
garbage: protobuf happily parses many byte strings as *some* message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from gridstream.errors import SerdeError, WrongMessageType

TYPE_HEADER = "gs-type"
SCHEMA_HEADER = "gs-schema"
SCHEMA_VERSION = "1"

Headers = list[tuple[str, bytes]]
M = TypeVar("M", bound=Message)


def type_name(message_type: type[Message]) -> str:
    return str(message_type.DESCRIPTOR.full_name)


def encode(message: Message) -> tuple[bytes, Headers]:
    """Serialise a message; the headers carry its full type name and schema version."""
    if not isinstance(message, Message):
        raise SerdeError(f"cannot encode {type(message).__name__}: not a protobuf message")
    name = message.DESCRIPTOR.full_name
    headers = _HEADERS.get(name)
    if headers is None:
        headers = _HEADERS[name] = (
            (TYPE_HEADER, name.encode()),
            (SCHEMA_HEADER, SCHEMA_VERSION.encode()),
        )
    return message.SerializeToString(deterministic=True), list(headers)


#: the two headers of each message type, built once (encode runs once per record produced)
_HEADERS: dict[str, tuple[tuple[str, bytes], tuple[str, bytes]]] = {}


def header_value(headers: Sequence[tuple[str, bytes | None]] | None, name: str) -> str | None:
    for key, value in headers or ():
        if key == name and value is not None:
            return value.decode(errors="replace")
    return None


def decode(
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]] | None,
    message_type: type[M],
) -> M:
    """Parse ``value`` as ``message_type``; raise WrongMessageType or SerdeError."""
    expected = message_type.DESCRIPTOR.full_name
    actual = header_value(headers, TYPE_HEADER)
    if actual is None:
        raise SerdeError(
            f"missing {TYPE_HEADER} header: not a GridStream record (expected {expected})"
        )
    if actual != expected:
        raise WrongMessageType(f"expected {expected}, got {actual}")
    version = header_value(headers, SCHEMA_HEADER)
    if version is not None and version != SCHEMA_VERSION:
        raise SerdeError(f"unsupported schema version {version} of {expected}")
    if value is None:
        raise SerdeError(f"empty value (tombstone) where a {expected} was expected")
    message = message_type()
    try:
        message.ParseFromString(value)
    except DecodeError as exc:
        raise SerdeError(f"undecodable {expected}: {exc}") from exc
    return message
