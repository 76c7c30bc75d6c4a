"""What each input record means to the alert engine, shared by the service and by replays.

* a clean reading moves the series' staleness clock and, when flagged stuck, is a
  ``feed_stuck`` event;
* an anomaly labelled ``stuck`` is a ``feed_stuck`` event as well as an anomaly;
* a system event goes to the engine as it is, except that one about a series (the
  preprocessor's ``feed_stuck`` carries ``series_id``) is labelled like the stuck feeds derived
  from data (``series``, ``region``, ``field``, service ``data-quality``). One frozen feed is
  then one FeedStuck alert, whichever record reports it first, and the inhibit rules that
  match on ``series`` silence that series' anomaly alerts.
"""

from __future__ import annotations

from collections.abc import Mapping

from gridstream.core.alerts.engine import AlertEngine
from gridstream.core.alerts.model import EngineOutput
from gridstream.core.anomaly.model import AnomalyResult, Label
from gridstream.schemas import common_pb2, readings_pb2

DATA_QUALITY = "data-quality"  # the "service" label of stuck-feed events derived from data
SERIES_EVENTS = frozenset({"feed_stuck", "feed_recovered"})


def series_labels(series_id: str) -> dict[str, str]:
    region, _, field = series_id.partition("/")
    return {"series": series_id, "region": region, "field": field}


def on_stuck(engine: AlertEngine, series_id: str, ts_ms: int, note: str) -> EngineOutput:
    labels = series_labels(series_id)
    return engine.on_system_event("feed_stuck", DATA_QUALITY, ts_ms, note, labels)


def on_clean(engine: AlertEngine, clean: readings_pb2.CleanReading) -> EngineOutput:
    out = EngineOutput()
    if common_pb2.QUALITY_FLAG_STUCK in clean.flags:
        note = f"{clean.series_id} unchanged for {clean.stuck_intervals} readings"
        out.extend(on_stuck(engine, clean.series_id, clean.ts_ms, note))
    out.extend(engine.on_reading(clean.series_id, clean.ts_ms, clean.value))
    return out


def on_anomaly(engine: AlertEngine, result: AnomalyResult, with_reading: bool) -> EngineOutput:
    """``with_reading``: the anomaly also stands for its reading (no clean readings consumed)."""
    out = EngineOutput()
    if result.label is Label.STUCK and result.is_anomaly:
        out.extend(on_stuck(engine, result.series_id, result.ts_ms, result.explanation))
    if with_reading:
        out.extend(engine.on_reading(result.series_id, result.ts_ms, result.value))
    out.extend(engine.on_anomaly(result))
    return out


def on_event(
    engine: AlertEngine,
    kind: str,
    service: str,
    ts_ms: int,
    message: str,
    labels: Mapping[str, str],
) -> EngineOutput:
    series_id = labels.get("series") or labels.get("series_id", "")
    if kind in SERIES_EVENTS and "/" in series_id:
        return engine.on_system_event(kind, DATA_QUALITY, ts_ms, message, series_labels(series_id))
    return engine.on_system_event(kind, service, ts_ms, message, labels)
