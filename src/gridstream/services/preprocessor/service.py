"""smart-preprocessor: ``raw_energy_data`` -> cleaned, flagged ``preprocessed_data``.

The :class:`~gridstream.core.cleaning.Cleaner` does the work; its per-series
:class:`SeriesState` is the runner's keyed state (changelog topic, same transaction as the
outputs), so a restart continues exactly where the last commit left it. Invalid readings
raise ``InvalidReading`` (a ``ValidationError``) and are dead-lettered with the reason.
Data-quality episodes also go to ``system_events`` for the alert engine, once per episode:
``feed_stuck`` when a flatline reaches the field's limit, ``feed_recovered`` when it ends,
``feed_gap`` for each gap before a reading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime

from google.protobuf.message import Message

from gridstream.bus.alignment import STEP_DRIFT_MS, ts_of
from gridstream.bus.processor import InRecord, OutRecord, Processor
from gridstream.bus.runner import Runner
from gridstream.bus.state import StateCodec, StateView
from gridstream.config import Settings
from gridstream.core.cleaning import Cleaner, SeriesState, rule_for_field
from gridstream.schemas import alert_pb2, common_pb2, readings_pb2
from gridstream.services.base import make_runner, runner_service
from gridstream.services.host import ServiceParts

SERVICE = "smart-preprocessor"
LONG_GAP_MS = 3_600_000  # gaps of an hour or more are warnings, shorter ones info


def _utc(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat()


class Preprocessor(Processor[SeriesState]):
    state_codec = StateCodec(SeriesState.to_bytes, SeriesState.from_bytes)
    align_drift_ms = STEP_DRIFT_MS

    def __init__(self, settings: Settings, cleaner: Cleaner | None = None) -> None:
        self.topics = settings.topics
        self.cleaner = cleaner or Cleaner()

    def event_times(self) -> Mapping[str, Callable[[Message], int]]:
        return {self.topics.raw: ts_of}  # read the series' partitions in step

    def inputs(self) -> Mapping[str, type[Message]]:
        return {self.topics.raw: readings_pb2.RawReading}

    def process(self, record: InRecord, state: StateView[SeriesState]) -> Iterable[OutRecord]:
        raw = record.value
        assert isinstance(raw, readings_pb2.RawReading)
        sid = f"{raw.region}/{raw.field}"
        series = state.get(sid) or SeriesState()
        rule = rule_for_field(raw.field, self.cleaner.rules)  # unknown fields raise first
        before = rule.held_run(series.run_length, series.idle_run)
        cleaned = self.cleaner.process(raw, series)
        state.put(sid, series)
        out = [OutRecord(self.topics.preprocessed, sid, c) for c in cleaned]
        for clean in cleaned:
            # the cleaner flags a held run and counts it in stuck_intervals
            stuck = common_pb2.QUALITY_FLAG_STUCK in clean.flags
            after = clean.stuck_intervals if stuck else 0
            if not (before or after or clean.gap_before_ms):
                continue  # no episode starts or ends here (most readings): nothing to look at
            events = self._episodes(clean, before, after)
            out += [OutRecord(self.topics.system_events, sid, e) for e in events]
        return out

    def _episodes(
        self, clean: readings_pb2.CleanReading, held_before: int, held_after: int
    ) -> list[alert_pb2.SystemEvent]:
        """``held_*``: the flatline the series was in before and after this reading (0: none)."""
        flags = set(clean.flags)
        if common_pb2.QUALITY_FLAG_DUPLICATE_CONFLICT in flags or (
            common_pb2.QUALITY_FLAG_LATE in flags
        ):
            return []  # not the head of the series: no episode starts or ends here
        sid = clean.series_id
        events = []
        if clean.gap_before_ms:
            minutes = clean.gap_before_ms // 60_000
            events.append(
                self._event(
                    "feed_gap",
                    common_pb2.SEVERITY_WARNING
                    if clean.gap_before_ms >= LONG_GAP_MS
                    else common_pb2.SEVERITY_INFO,
                    f"{sid}: {minutes} min of data missing before {_utc(clean.ts_ms)}",
                    clean,
                    gap_minutes=str(minutes),
                )
            )
        if held_after and not held_before:
            events.append(
                self._event(
                    "feed_stuck",
                    common_pb2.SEVERITY_WARNING,
                    f"{sid} has reported {clean.value:g} {clean.unit} for {held_after} "
                    f"intervals (flatline) at {_utc(clean.ts_ms)}",
                    clean,
                    value=f"{clean.value:g}",
                    intervals=str(held_after),
                )
            )
        elif held_before and not held_after:
            events.append(
                self._event(
                    "feed_recovered",
                    common_pb2.SEVERITY_INFO,
                    f"{sid} moves again after {held_before} unchanged intervals",
                    clean,
                    intervals=str(held_before),
                )
            )
        return events

    @staticmethod
    def _event(
        kind: str, severity: int, message: str, clean: readings_pb2.CleanReading, **labels: str
    ) -> alert_pb2.SystemEvent:
        return alert_pb2.SystemEvent(
            event_id=f"{kind}:{clean.series_id}@{clean.ts_ms}",
            service=SERVICE,
            kind=kind,
            severity=severity,  # type: ignore[arg-type]
            message=message,
            ts_ms=clean.ts_ms,
            labels={
                "series_id": clean.series_id,
                "region": clean.region,
                "field": clean.field,
                **labels,
            },
        )


def preprocessor_runner(settings: Settings, group: str | None = None) -> Runner[SeriesState]:
    """A runner of the preprocessor; ``group`` isolates its offsets and state (tools, tests)."""
    return make_runner(settings, SERVICE, Preprocessor(settings), group=group)


def build(settings: Settings) -> ServiceParts:
    parts, _ = runner_service(settings, SERVICE, Preprocessor(settings))
    return parts
