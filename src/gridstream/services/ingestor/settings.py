"""The ingestor's own settings (env prefix ``GRIDSTREAM_INGEST_``) and its EirGrid client setup."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridstream.sources.client import ClientSettings
from gridstream.sources.retry import BackoffPolicy

SourceKind = Literal["auto", "live", "replay", "simulate", "idle"]


class IngestSettings(BaseSettings):
    """What smart-ingestor does when it starts and how it talks to the EirGrid API.

    ``source``: ``auto`` replays ``replay_path`` when set, else ingests live when the API
    answers, else simulates; ``idle`` waits for ``GET/POST /stream``. A replay with
    ``replay_from`` sends the ``replay_warmup_days`` before it at once, then paces at ``speed``.
    """

    model_config = SettingsConfigDict(env_prefix="GRIDSTREAM_INGEST_", frozen=True, extra="ignore")

    source: SourceKind = "auto"
    replay_path: Path | None = None
    speed: float | None = Field(None, gt=0)  # None: as fast as possible
    replay_from: datetime | None = None  # paced replay from here (None: the whole recording)
    replay_warmup_days: float = Field(0.0, ge=0)  # sent at once before replay_from
    poll_seconds: float = Field(60.0, gt=0)
    lookback_hours: float = Field(6.0, gt=0)
    max_catchup_days: int = Field(7, ge=1)
    regions: tuple[str, ...] = ()  # empty: ALL, ROI and NI
    areas: tuple[str, ...] = ()  # empty: every catalogue area
    seed: int = 0
    batch_size: int = Field(5000, ge=1)  # readings per Kafka transaction
    api_base_url: str = "https://www.smartgriddashboard.com"
    api_timeout_s: float = Field(20.0, gt=0)
    api_requests_per_s: float = Field(2.0, gt=0)
    api_max_retries: int = Field(4, ge=0)
    api_backoff_base_s: float = Field(1.0, gt=0)
    open_get_stream: bool = True  # GET /stream (compat) starts live ingestion without a token

    def client_settings(self) -> ClientSettings:
        return ClientSettings(
            base_url=self.api_base_url,
            timeout_s=self.api_timeout_s,
            requests_per_s=self.api_requests_per_s,
            backoff=BackoffPolicy(
                base_s=self.api_backoff_base_s,
                cap_s=max(60.0, self.api_backoff_base_s),
                max_retries=self.api_max_retries,
            ),
        )
