"""The detector contract every streaming detector implements (river style).

A ``Detector`` sees one series, one reading at a time, in time order, and returns a score in
``[0, 1]`` computed from that reading and the past only (causal). Its whole state is plain
JSON-compatible data, so it can be written to a Kafka changelog as bytes and restored after a
restart: a restored detector gives exactly the scores the original would have given.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Self

from gridstream.core.anomaly.state_doc import pack, unpack
from gridstream.errors import SerdeError

STATE_FORMAT = 1


class Detector(ABC):
    """A streaming anomaly detector for one series.

    Subclasses set ``kind``, take only JSON-compatible keyword parameters in ``__init__``
    (returned by ``params``) and implement ``score_one``, ``get_state`` and ``set_state``.
    """

    kind: ClassVar[str]

    @abstractmethod
    def score_one(self, ts_ms: int, value: float) -> float:
        """Learn from one reading and return its anomaly score in ``[0, 1]``."""

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """The constructor parameters (JSON-compatible)."""

    @abstractmethod
    def get_state(self) -> dict[str, Any]:
        """Everything learned so far, as JSON-compatible data."""

    @abstractmethod
    def set_state(self, state: dict[str, Any]) -> None:
        """Restore what ``get_state`` returned."""

    def to_bytes(self) -> bytes:
        """The detector (parameters and state) as compact bytes for a changelog."""
        doc = {
            "format": STATE_FORMAT,
            "kind": self.kind,
            "params": self.params(),
            "state": self.get_state(),
        }
        # numeric windows packed as binary, the rest JSON, zlib level 1 (see state_doc): a
        # detector's state is written on every batch that touches its series
        return pack(doc)

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Rebuild a detector written by ``to_bytes`` (in this layout or the earlier one)."""
        doc = unpack(data)
        if not isinstance(doc, dict):
            raise SerdeError("detector state is not a document; drop the changelog entry")
        if doc.get("format") != STATE_FORMAT or doc.get("kind") != cls.kind:
            raise SerdeError(
                f"detector state is {doc.get('kind')!r} format {doc.get('format')!r}, expected "
                f"{cls.kind!r} format {STATE_FORMAT}; drop the changelog entry to start fresh"
            )
        detector = cls(**doc["params"])
        detector.set_state(doc["state"])
        return detector
