"""The cleaner: one ``RawReading`` plus its series' state in, zero or one ``CleanReading`` out.

Values are never changed: problems become quality flags, and readings that cannot be
trusted at all raise :class:`InvalidReading` so the service dead-letters them with a reason.

* alignment: timestamps are moved to the nearest point of the series' 15/30-minute grid
  (flag ``OFF_GRID``);
* duplicates: the same series and time with the same value again -> nothing is emitted;
  another value -> the later value is emitted again under the same record id, flagged
  ``DUPLICATE_CONFLICT`` (downstream upserts by record id);
* ``LATE``: older than the newest reading of the series and not seen before;
* ``GAP_BEFORE``: intervals missing since the previous reading (``gap_before_ms``);
* ``STUCK``: the value has been identical for ``stuck_intervals`` readings or more, or an
  interconnector has held a meter offset (its rule's idle band) for an hour and not yet
  carried power again for an hour
  (``stuck_intervals`` on the clean reading counts the held run, gaps do not reset it);
* ``SPIKE``: the step from the previous interval exceeds ``spike_factor`` times the median
  recent step and the field's absolute floor.
"""

from __future__ import annotations

import statistics
from typing import TypeAlias

from gridstream.core.cleaning.rules import (
    DEFAULT_RULES,
    InvalidReading,
    SeriesRule,
    check_region,
    check_value,
    rule_for_field,
)
from gridstream.core.cleaning.state import SeriesState
from gridstream.schemas import common_pb2, readings_pb2
from gridstream.sources.records import record_id, series_id

Flag: TypeAlias = "common_pb2.QualityFlag.ValueType"

RECENT_WINDOW = 192  # two days of quarter-hours remembered for duplicate detection
DIFF_WINDOW = 96
MIN_DIFFS_FOR_SPIKE = 8
#: plausible reading times: 2000-01-01 to 2100-01-01 UTC; outside is a broken clock or unit
MIN_TS_MS = 946_684_800_000
MAX_TS_MS = 4_102_444_800_000


class Cleaner:
    """Stateless apart from its rules; all per-series memory lives in :class:`SeriesState`."""

    def __init__(self, rules: dict[str, SeriesRule] | None = None) -> None:
        self.rules = rules or DEFAULT_RULES

    def validate(self, raw: readings_pb2.RawReading) -> SeriesRule:
        """The reading's rule, or :class:`InvalidReading` with the reason it is rejected."""
        rule = rule_for_field(raw.field, self.rules)
        check_region(raw.region)
        expected_id = series_id(raw.region, raw.field)
        if raw.series_id and raw.series_id != expected_id:
            raise InvalidReading(
                "bad_series_id", f"series_id {raw.series_id!r} does not match {expected_id!r}"
            )
        if raw.unit and raw.unit != rule.unit:
            raise InvalidReading(
                "unit_mismatch", f"{raw.field} arrived in {raw.unit!r}, expected {rule.unit!r}"
            )
        if not raw.has_value:
            raise InvalidReading("null_value", f"{expected_id} at {raw.ts_ms} has no value")
        if not MIN_TS_MS <= raw.ts_ms < MAX_TS_MS:
            raise InvalidReading(
                "bad_timestamp",
                f"ts_ms {raw.ts_ms} is not a UTC epoch time in milliseconds between 2000 and 2100",
            )
        check_value(rule, raw.value)
        return rule

    def process(
        self, raw: readings_pb2.RawReading, state: SeriesState
    ) -> list[readings_pb2.CleanReading]:
        """Clean one reading, updating ``state`` in place; raises :class:`InvalidReading`."""
        rule = self.validate(raw)
        flags: list[Flag] = []
        interval = rule.interval_ms
        ts = round(raw.ts_ms / interval) * interval
        if ts != raw.ts_ms:
            flags.append(common_pb2.QUALITY_FLAG_OFF_GRID)
        value = float(raw.value)

        seen = state.recent.get(ts)
        if seen is not None:
            if seen == value:
                state.duplicates += 1
                return []
            state.conflicts += 1
            flags.append(common_pb2.QUALITY_FLAG_DUPLICATE_CONFLICT)
            state.recent[ts] = value
            if ts == state.last_ts_ms:
                state.last_value = value
            return [self._clean(raw, rule, ts, value, flags, 0, state.run_length)]

        if state.last_ts_ms is not None and ts < state.last_ts_ms:
            flags.append(common_pb2.QUALITY_FLAG_LATE)
            state.remember(ts, value, RECENT_WINDOW)
            state.emitted += 1
            return [self._clean(raw, rule, ts, value, flags, 0, 0)]

        gap_ms = 0
        if state.last_ts_ms is not None:
            gap_ms = max(0, ts - state.last_ts_ms - interval)
            if gap_ms:
                flags.append(common_pb2.QUALITY_FLAG_GAP_BEFORE)
        state.run_length = state.run_length + 1 if value == state.last_value else 1
        state.idle_run, state.flow_run = rule.track_idle(
            value, state.run_length, state.idle_run, state.flow_run
        )
        held = rule.held_run(state.run_length, state.idle_run)
        if held:
            flags.append(common_pb2.QUALITY_FLAG_STUCK)
        if state.last_value is not None and not gap_ms:
            step = abs(value - state.last_value)
            if self._is_spike(rule, step, state.diffs):
                flags.append(common_pb2.QUALITY_FLAG_SPIKE)
            state.diffs.append(step)
            del state.diffs[:-DIFF_WINDOW]
        state.last_ts_ms = ts
        state.last_value = value
        state.remember(ts, value, RECENT_WINDOW)
        state.emitted += 1
        return [self._clean(raw, rule, ts, value, flags, gap_ms, held or state.run_length)]

    @staticmethod
    def _is_spike(rule: SeriesRule, step: float, diffs: list[float]) -> bool:
        if len(diffs) < MIN_DIFFS_FOR_SPIKE or not step > rule.spike_floor:
            return False  # (a step within the floor is no spike: the median is not needed)
        return step > max(rule.spike_factor * statistics.median(diffs), rule.spike_floor)

    @staticmethod
    def _clean(
        raw: readings_pb2.RawReading,
        rule: SeriesRule,
        ts: int,
        value: float,
        flags: list[Flag],
        gap_ms: int,
        run: int,
    ) -> readings_pb2.CleanReading:
        sid = series_id(raw.region, raw.field)
        return readings_pb2.CleanReading(
            record_id=record_id(sid, ts),
            series_id=sid,
            region=raw.region,
            field=raw.field,
            ts_ms=ts,
            value=value,
            unit=rule.unit,
            flags=flags,
            interval_minutes=rule.interval_minutes,
            gap_before_ms=gap_ms,
            source=raw.source,
            stuck_intervals=run,
        )
