"""Replaying recorded EirGrid data through the streaming detector and the alert rules, in
process: the preprocessor's and the detector's own processors (the code the services run),
then the alert engine on event time (ticks at every new reading time), with no broker.

No forecaster runs here, so the detector judges on its own evidence and the data-quality
flags; the forecast-residual rules (ForecastMiss) cannot fire in this replay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from google.protobuf.message import Message

from gridstream.bus.anomaly_records import from_anomaly
from gridstream.bus.processor import InRecord, OutRecord, Processor
from gridstream.bus.state import StateView
from gridstream.config import Settings
from gridstream.core.alerts.engine import AlertEngine
from gridstream.core.alerts.model import AlertState, EngineOutput
from gridstream.core.anomaly.incidents import Firing
from gridstream.errors import GridstreamError, ValidationError
from gridstream.schemas import alert_pb2, anomaly_pb2, features_pb2, readings_pb2
from gridstream.services.alert_engine.inputs import on_anomaly, on_clean, on_event
from gridstream.services.alert_engine.rules import DEFAULT_RULES_FILE, load_rules_file
from gridstream.services.anomaly_detector.service import AnomalyDetectorProcessor
from gridstream.services.ml_preprocessor.stream import flag_strings
from gridstream.services.preprocessor.service import Preprocessor
from gridstream.sources.catalogue import spec_for_field
from gridstream.sources.recorded import list_files, read_frame
from gridstream.sources.records import make_raw_reading

DEFAULT_DATA = Path("../shared/data/eirgrid/smartgriddashboard")


def load_series(data: Path, series: Sequence[str], from_ms: int, to_ms: int) -> pd.DataFrame:
    """Readings (``ts_ms``, ``series``, ``value``) of ``series`` in ``[from_ms, to_ms)``."""
    if not data.exists():
        raise GridstreamError(
            f"recorded data not found at {data}: pass --data <folder of ALL/ROI/NI csv.gz files>"
        )
    years = range(pd.Timestamp(from_ms, unit="ms").year, pd.Timestamp(to_ms, unit="ms").year + 1)
    regions = sorted({s.partition("/")[0] for s in series})
    areas = sorted({spec.area for s in series if (spec := spec_for_field(s.partition("/")[2]))})
    frame = read_frame(list_files(data, regions=regions, areas=areas, years=years))
    frame["series"] = frame["region"] + "/" + frame["field"]
    frame["ts_ms"] = frame["ts"].dt.as_unit("ms").astype("int64")
    keep = frame["series"].isin(series) & (frame["ts_ms"] >= from_ms) & (frame["ts_ms"] < to_ms)
    return frame.loc[keep, ["ts_ms", "series", "value"]].reset_index(drop=True)


@dataclass
class Replay:
    """One stream of readings through cleaner, detector and alert engine; collects firings."""

    settings: Settings = field(default_factory=Settings)
    firings: list[Firing] = field(default_factory=list)
    anomalies: list[tuple[str, int, float, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        topics = self.settings.topics
        self._pre = Preprocessor(self.settings)
        self._pre_state: StateView[Any] = StateView(0)
        self._detector = AnomalyDetectorProcessor(topics)
        self._det_state: StateView[Any] = StateView(0)
        rules, _ = load_rules_file(DEFAULT_RULES_FILE)
        self._engine = AlertEngine(rules)
        self._offset = 0
        self._clock = 0

    def run(self, readings: pd.DataFrame) -> None:
        for ts, sid, value in readings.sort_values(["ts_ms", "series"], kind="stable").itertuples(
            index=False
        ):
            self.feed(str(sid), int(ts), float(value))
        self._tick(self._clock)

    def feed(self, series_id: str, ts_ms: int, value: float) -> None:
        if ts_ms > self._clock:
            self._tick(ts_ms)  # the stream's clock moves: staleness and `for` timers advance
        region, _, fld = series_id.partition("/")
        raw = make_raw_reading(region=region, field=fld, ts_ms=ts_ms, value=value)
        for clean_out in self._process(self._pre, self._pre_state, raw):
            msg = clean_out.value
            if isinstance(msg, alert_pb2.SystemEvent):
                self._collect(
                    on_event(
                        self._engine, msg.kind, msg.service, msg.ts_ms, msg.message, msg.labels
                    )
                )
            elif isinstance(msg, readings_pb2.CleanReading):
                self._on_clean(msg)

    def _on_clean(self, clean: readings_pb2.CleanReading) -> None:
        self._collect(on_clean(self._engine, clean))
        vector = features_pb2.FeatureVector(
            series_id=clean.series_id,
            region=clean.region,
            field=clean.field,
            ts_ms=clean.ts_ms,
            value=clean.value,
            flags=list(flag_strings(clean)),
        )
        for out in self._process(self._detector, self._det_state, vector):
            assert isinstance(out.value, anomaly_pb2.Anomaly)
            result = from_anomaly(out.value)
            if result.is_anomaly:
                self.anomalies.append(
                    (result.series_id, result.ts_ms, result.score, result.label.value)
                )
            self._collect(on_anomaly(self._engine, result, with_reading=False))

    def _process(
        self, processor: Processor[Any], state: StateView[Any], value: Message
    ) -> list[OutRecord]:
        self._offset += 1
        record = InRecord("replay", 0, self._offset, None, value, 0)
        try:
            return list(processor.process(record, state))
        except ValidationError:
            return []  # the service would dead-letter it; the replay has nothing to judge

    def _tick(self, now_ms: int) -> None:
        self._clock = max(self._clock, now_ms)
        self._collect(self._engine.tick(now_ms))

    def _collect(self, out: EngineOutput) -> None:
        """Alerts that went to firing and would be notified: ``out.changes`` holds copies taken
        before the engine applied its inhibitions and silences, so those are read from the
        engine's own alert after the call."""
        for alert in out.changes:
            live = self._engine.alerts.get(alert.fingerprint, alert)
            if alert.state is AlertState.FIRING and not live.suppressed:
                series = alert.labels.get("series", "")
                summary = alert.annotations.get("summary", "")
                self.firings.append(Firing(alert.name, series, alert.updated_at_ms, summary))
