"""Alert, silence and notification records, fingerprints and label matchers."""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class AlertState(StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


def fingerprint(labels: Mapping[str, str]) -> str:
    """A stable identity for a label set (order does not matter)."""
    return _fingerprint(tuple(labels.items()))


@functools.lru_cache(maxsize=1 << 16)
def _fingerprint(items: tuple[tuple[str, str], ...]) -> str:
    """The fingerprint of a label set, hashed once: the engine asks again for the same few
    label sets (an alert's, its group's) on every record, to look them up."""
    text = "\x1f".join(f"{k}\x1e{v}" for k, v in sorted(items))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def matches(matchers: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Every matcher holds; values may be shell globs (``ALL/*``)."""
    for key, pattern in matchers.items():  # noqa: SIM110 - a loop: no generator per call
        if not _matcher(pattern)(labels.get(key, "")):
            return False
    return True


@functools.lru_cache(maxsize=4096)
def _matcher(pattern: str) -> Callable[[str], bool]:
    """``fnmatch.fnmatchcase(name, pattern)`` as a function of ``name``, built once per
    pattern: a pattern without ``*``, ``?`` or ``[`` matches itself only (the engine tests
    every inhibit rule against every alert on every record, most of them plain words)."""
    if not any(c in pattern for c in "*?["):
        return functools.partial(operator.eq, pattern)
    match = re.compile(fnmatch.translate(pattern)).match
    return lambda name: match(name) is not None


@dataclass
class Alert:
    """One alert instance, identified by the fingerprint of its labels."""

    fingerprint: str
    name: str
    labels: dict[str, str]
    severity: str
    state: AlertState
    starts_at_ms: int
    last_seen_ms: int
    updated_at_ms: int
    for_ms: int = 0
    ends_at_ms: int = 0
    annotations: dict[str, str] = field(default_factory=dict)
    occurrences: int = 1
    silenced: bool = False
    inhibited: bool = False
    acknowledged: bool = False
    acknowledged_by: str = ""

    @property
    def suppressed(self) -> bool:
        return self.silenced or self.inhibited


@dataclass
class Silence:
    """Mutes alerts whose labels match, between ``starts_at_ms`` and ``ends_at_ms``."""

    id: str
    matchers: dict[str, str]
    starts_at_ms: int
    ends_at_ms: int
    created_by: str = ""
    comment: str = ""

    def active(self, now_ms: int) -> bool:
        return self.starts_at_ms <= now_ms < self.ends_at_ms


@dataclass
class Group:
    """A notification group: alerts sharing the route's ``group_by`` label values."""

    key: str
    labels: dict[str, str]
    first_seen_ms: int
    last_notified_ms: int = -1
    notified: dict[str, str] = field(default_factory=dict)  # fingerprint -> state sent


@dataclass(frozen=True)
class Notification:
    """What receivers get: one group's alerts, and why it is sent now."""

    group_key: str
    group_labels: dict[str, str]
    reason: str  # new, update, repeat
    ts_ms: int
    alerts: tuple[Alert, ...]


@dataclass
class EngineOutput:
    """Alert state changes and notifications produced by one engine call."""

    changes: list[Alert] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)

    def extend(self, other: EngineOutput) -> None:
        self.changes.extend(other.changes)
        self.notifications.extend(other.notifications)
