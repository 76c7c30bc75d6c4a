"""The forecaster's own settings (light: the rebalancer and the detector read its fields)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridstream.core.forecast_fields import SERIES_FIELDS


class ForecasterSettings(BaseSettings):
    """``GRIDSTREAM_FORECASTER_*``: the forecaster's own settings."""

    model_config = SettingsConfigDict(
        env_prefix="GRIDSTREAM_FORECASTER_", frozen=True, extra="ignore"
    )

    #: comma-separated fields forecast in every region: the trained series, plus SNSP
    #: (seasonal-naive until a model exists) which the rebalancer's SNSP rule reads
    fields: str = ",".join([*SERIES_FIELDS.values(), "SNSP_ALL"])
    #: LightGBM threads for prediction
    threads: int = 2
    #: follow the trainer's decisions in event time (``model_join``): each forecast uses the
    #: model decided for its origin and waits for that decision. Set where the trainer runs
    #: (`gridstream up`, `verify` with the trainer); off, an update applies when it arrives
    follow_trainer: bool = False
    #: data hours a series' vectors may wait for a trainer decision before they are forecast
    #: with the model in force (a dead or far-behind trainer must not stop the forecasts); the
    #: trainer's own join waits up to a week for its inputs, so a day more than that
    trainer_grace_hours: float = Field(192.0, gt=0)

    def field_set(self) -> frozenset[str]:
        return field_set(self.fields)


def field_set(text: str) -> frozenset[str]:
    """The fields of a comma-separated setting (blanks ignored)."""
    return frozenset(f.strip() for f in text.split(",") if f.strip())
