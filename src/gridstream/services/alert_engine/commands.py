"""Silences and acknowledgements as commands on ``alert_commands``: part of the input.

The HTTP API does not change an engine: it publishes a command (a ``SystemEvent`` whose
``kind`` names the command, ``event_id`` its id, ``ts_ms`` the engine time when it was
accepted, ``labels`` its arguments; matchers as ``match:<label>``), one copy per partition
so that every engine gets it. Each engine applies it in event-time order with its other
inputs, at the command's time, so a replay or a restart applies it at the same point. The
API thread waits until the engines it sent it to have applied it and answers with the
result, as before.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gridstream.core.alerts.engine import AlertEngine, UnknownAlert
from gridstream.core.alerts.model import Alert, Silence
from gridstream.errors import ValidationError
from gridstream.schemas import alert_pb2

ADD_SILENCE = "silence_add"
EXPIRE_SILENCE = "silence_expire"
ACK = "alert_ack"
KINDS = (ADD_SILENCE, EXPIRE_SILENCE, ACK)
MATCH = "match:"


def silence_command(
    command_id: str,
    ts_ms: int,
    matchers: Mapping[str, str],
    duration_ms: int,
    created_by: str,
    comment: str,
    starts_at_ms: int | None,
) -> alert_pb2.SystemEvent:
    labels = {f"{MATCH}{k}": v for k, v in matchers.items()}
    labels.update({"duration_ms": str(duration_ms), "created_by": created_by, "comment": comment})
    if starts_at_ms is not None:
        labels["starts_at_ms"] = str(starts_at_ms)
    text = f"silence {dict(matchers)} for {duration_ms // 60_000} min by {created_by}"
    return _command(command_id, ADD_SILENCE, ts_ms, text, labels)


def expire_command(command_id: str, ts_ms: int, silence_id: str) -> alert_pb2.SystemEvent:
    labels = {"silence_id": silence_id}
    return _command(command_id, EXPIRE_SILENCE, ts_ms, f"expire silence {silence_id}", labels)


def ack_command(command_id: str, ts_ms: int, fingerprint: str, by: str) -> alert_pb2.SystemEvent:
    labels = {"fingerprint": fingerprint, "by": by}
    return _command(command_id, ACK, ts_ms, f"acknowledge {fingerprint} by {by}", labels)


def _command(
    command_id: str, kind: str, ts_ms: int, text: str, labels: dict[str, str]
) -> alert_pb2.SystemEvent:
    return alert_pb2.SystemEvent(
        event_id=command_id,
        service="smart-alert-engine-api",
        kind=kind,
        message=text,
        ts_ms=ts_ms,
        labels=labels,
    )


def silence_id(command_id: str) -> str:
    return "s-" + hashlib.sha256(command_id.encode()).hexdigest()[:16]


def apply_command(engine: AlertEngine, cmd: alert_pb2.SystemEvent) -> Silence | Alert | None:
    """Apply one command at its event time; the silence or alert it changed, None if its
    target is not in this engine. A command already applied (a copy read twice) is ignored."""
    labels = dict(cmd.labels)
    ts = cmd.ts_ms
    if cmd.event_id in engine.commands:
        return None
    engine.commands[cmd.event_id] = ts
    _forget_old(engine, ts)
    try:
        if cmd.kind == ADD_SILENCE:
            matchers = {k[len(MATCH) :]: v for k, v in labels.items() if k.startswith(MATCH)}
            start = int(labels.get("starts_at_ms", ts))
            end = start + int(labels["duration_ms"])
            sid = silence_id(cmd.event_id)
            silence = Silence(
                sid, matchers, start, end, labels.get("created_by", ""), labels.get("comment", "")
            )
            engine.silences[sid] = silence
            engine.refresh_suppression()
            return silence
        if cmd.kind == EXPIRE_SILENCE:
            sid = labels["silence_id"]
            if sid not in engine.silences:
                return None
            expired = engine.expire_silence(sid, ts)
            engine.refresh_suppression()
            return expired
        if cmd.kind == ACK:
            fp = labels["fingerprint"]
            if fp not in engine.alerts:
                return None
            return engine.acknowledge(fp, labels.get("by", ""), ts)
    except (KeyError, ValueError) as exc:
        raise ValidationError(f"command {cmd.event_id!r} ({cmd.kind}) is malformed: {exc}") from exc
    raise ValidationError(f"unknown alert command {cmd.kind!r}: expected one of {KINDS}")


def _forget_old(engine: AlertEngine, now_ms: int, keep_ms: int = 7 * 86_400_000) -> None:
    """Command ids are kept a week (of event time): long past any redelivery."""
    old = [k for k, t in engine.commands.items() if t < now_ms - keep_ms]
    for k in old:
        del engine.commands[k]


@dataclass
class _Wait:
    partitions: set[int]
    results: dict[int, Silence | Alert | None] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)


class CommandWaits:
    """HTTP threads wait here for the engines to apply the commands they published."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waits: dict[str, _Wait] = {}

    def expect(self, command_id: str, partitions: set[int]) -> None:
        with self._lock:
            self._waits[command_id] = _Wait(set(partitions))

    def applied(self, command_id: str, partition: int, result: Silence | Alert | None) -> None:
        """Worker thread: one engine applied it."""
        with self._lock:
            wait = self._waits.get(command_id)
            if wait is None or partition in wait.results:
                return
            wait.results[partition] = result
            if wait.partitions <= set(wait.results):
                wait.done.set()

    def result(self, command_id: str, timeout_s: float) -> list[Any] | None:
        """The engines' results, or None if they did not all apply it in time."""
        with self._lock:
            wait = self._waits[command_id]
        ok = wait.done.wait(timeout_s)
        with self._lock:
            self._waits.pop(command_id, None)
        return [r for _, r in sorted(wait.results.items()) if r is not None] if ok else None


def first_or_unknown(results: list[Any], what: str) -> Any:
    if not results:
        raise UnknownAlert(what)
    return results[0]
