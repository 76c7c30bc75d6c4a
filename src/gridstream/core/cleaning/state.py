"""Per-series cleaner state, small and serialisable to bytes for a Kafka changelog topic."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields

from gridstream.errors import SerdeError


@dataclass
class SeriesState:
    """What the cleaner remembers about one series between readings.

    ``recent`` maps the last emitted timestamps (ms) to their values, for duplicate and
    conflict detection; ``diffs`` holds recent absolute steps for spike detection.
    """

    last_ts_ms: int | None = None
    last_value: float | None = None
    run_length: int = 0
    #: readings of the meter-offset stretch an interconnector is in (see ``SeriesRule.track_idle``)
    idle_run: int = 0
    #: readings above the idle band since that stretch began
    flow_run: int = 0
    recent: dict[int, float] = field(default_factory=dict)
    diffs: list[float] = field(default_factory=list)
    emitted: int = 0
    duplicates: int = 0
    conflicts: int = 0

    def remember(self, ts_ms: int, value: float, window: int) -> None:
        """Keep ``value`` for ``ts_ms``; forget the earliest-remembered beyond ``window``."""
        self.recent[ts_ms] = value
        while len(self.recent) > window:
            del self.recent[next(iter(self.recent))]

    def to_bytes(self) -> bytes:
        # fields by hand: dataclasses.asdict deep-copies every value and was most of the
        # preprocessor's CPU at a live rate (one state written per record)
        data = {name: getattr(self, name) for name in _SCALARS}
        data["recent"] = list(self.recent.items())
        data["diffs"] = self.diffs
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> SeriesState:
        try:
            raw = json.loads(data)
            raw["recent"] = {int(ts): float(v) for ts, v in raw["recent"]}
            return cls(**raw)
        except (ValueError, KeyError, TypeError) as exc:
            raise SerdeError(
                f"cleaner state is unreadable ({exc}); delete the changelog entry to restart "
                "the series from scratch"
            ) from None


_SCALARS = tuple(f.name for f in fields(SeriesState) if f.name not in ("recent", "diffs"))
