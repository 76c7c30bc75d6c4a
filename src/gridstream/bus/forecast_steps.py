"""Reading a Forecast message's steps once, as plain tuples.

Each field read from a protobuf sub-message costs about as much as the iteration itself, so
consumers that need several columns of the 96 steps read them in one pass here.
"""

from __future__ import annotations

from gridstream.schemas.forecast_pb2 import Forecast

StepRow = tuple[int, float, float, float]


def steps_by_target(msg: Forecast) -> list[StepRow]:
    """``(target ms, P10, P50, P90)`` per step, sorted by target time (stable)."""
    return sorted(((s.target_time_ms, s.p10, s.p50, s.p90) for s in msg.steps), key=lambda r: r[0])
