"""The alert engine's keyed state: the engine under ``engine``, the merge's held records in
hourly blocks under ``held@<block start ms>`` (one record rewrites one small block, and the
engine's own entry stays the size of its alerts, whatever the backlog)."""

from __future__ import annotations

import json
from collections.abc import Callable

from gridstream.bus.state import StateCodec, StateView
from gridstream.core.alerts.engine import AlertEngine
from gridstream.core.alerts.merge import HeldBlock
from gridstream.core.alerts.rules import RuleSet
from gridstream.errors import SerdeError

ENGINE_KEY = "engine"
BLOCK_PREFIX = "held@"

EngineState = AlertEngine | HeldBlock


def block_key(start_ms: int) -> str:
    return f"{BLOCK_PREFIX}{start_ms}"


def engine_in(view: StateView[EngineState]) -> AlertEngine | None:
    engine = view.get(ENGINE_KEY)
    return engine if isinstance(engine, AlertEngine) else None


def _to_bytes(value: EngineState) -> bytes:
    if isinstance(value, HeldBlock):
        return json.dumps(value.to_doc(), separators=(",", ":")).encode()
    return value.to_bytes()


def engine_codec(rules: Callable[[], RuleSet]) -> StateCodec[EngineState]:
    """The codec of both kinds of entry; an engine is restored with the current rules."""

    def from_bytes(data: bytes) -> EngineState:
        if not data.startswith(b'{"held":'):
            return AlertEngine.from_bytes(rules(), data)
        try:
            return HeldBlock.from_doc(json.loads(data))
        except (ValueError, KeyError, TypeError) as exc:
            raise SerdeError(
                f"alert engine held records are not valid ({exc}); delete the state to start over"
            ) from exc

    return StateCodec(_to_bytes, from_bytes)
