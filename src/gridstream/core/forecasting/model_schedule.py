"""When a trained model starts to serve: the contract between the trainer and the forecaster.

The trainer decides, per series, at data-time checkpoints: every ``checkpoint_hours`` of data
time, aligned to the Unix epoch (daily at 00:00 UTC by default). For each checkpoint ``C`` it
publishes one ``ModelUpdate`` with ``train_until_ms = C``: a new version when it promoted one,
otherwise the version in force ("kept"). That record is the trainer's watermark.

A model decided at ``C`` serves the origins of the NEXT checkpoint period, ``[C + P, C + 2P)``.
So the forecast at origin ``t`` uses the decision of checkpoint :meth:`ModelSchedule.serving`
``(t)`` and waits for it, whenever it arrives: the model a forecast carries depends on the data
alone, not on how fast the trainer was. At live rates the decision is a whole period old when
it is needed, so nothing waits; in a fast replay the forecaster keeps pace with the trainer.

The settings are the trainer's (``GRIDSTREAM_TRAINER_*``): the same variables configure both.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from gridstream.core.features import SERIES_FIELDS
from gridstream.errors import GridstreamError

SLOT_MS = 900_000


class ModelSchedule(BaseSettings):
    """The trainer's checkpoints and the series it keeps models for."""

    model_config = SettingsConfigDict(env_prefix="GRIDSTREAM_TRAINER_", frozen=True, extra="ignore")

    regions: str = "ALL,ROI,NI"
    series: str = "demand,wind,co2"
    #: data hours between two decisions of the trainer (aligned to the epoch)
    checkpoint_hours: float = 24.0

    @property
    def checkpoint_ms(self) -> int:
        return max(SLOT_MS, int(self.checkpoint_hours * 3_600_000))

    def targets(self) -> list[tuple[str, str]]:
        """(region, short series name) pairs the trainer keeps models for."""
        regions = [r.strip() for r in self.regions.split(",") if r.strip()]
        names = [s.strip() for s in self.series.split(",") if s.strip()]
        for name in names:
            if name not in SERIES_FIELDS:
                raise GridstreamError(
                    f"GRIDSTREAM_TRAINER_SERIES: unknown series {name!r}; "
                    f"use {sorted(SERIES_FIELDS)}"
                )
        return [(r, n) for r in regions for n in names]

    def series_ids(self) -> frozenset[str]:
        return frozenset(f"{r}/{SERIES_FIELDS[n]}" for r, n in self.targets())

    def checkpoint_at_or_before(self, ts_ms: int) -> int:
        return ts_ms // self.checkpoint_ms * self.checkpoint_ms

    def serving(self, origin_ms: int) -> int:
        """The checkpoint whose decision serves a forecast issued at ``origin_ms``."""
        return self.checkpoint_at_or_before(origin_ms) - self.checkpoint_ms
