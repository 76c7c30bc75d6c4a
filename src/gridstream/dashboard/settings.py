"""Settings of the dashboard service alone (prefix ``GRIDSTREAM_DASHBOARD_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridstream.config import SERVICE_PORTS


class DashboardSettings(BaseSettings):
    """Where the other services answer, and how much history the page keeps in memory.

    ``GRIDSTREAM_DASHBOARD_SERVICE_URLS`` (JSON object, name -> base URL) overrides single
    services, e.g. in Kubernetes ``{"smart-grid-rebalancer": "http://rebalancer:5110"}``.
    """

    model_config = SettingsConfigDict(
        env_prefix="GRIDSTREAM_DASHBOARD_", frozen=True, extra="ignore"
    )

    service_host: str = "127.0.0.1"
    service_urls: dict[str, str] = Field(default_factory=dict)
    window_points: int = Field(3000, ge=10, le=100_000)
    backlog: int = Field(3000, ge=0)
    probe_interval_s: float = Field(3.0, gt=0)
    proxy_timeout_s: float = Field(10.0, gt=0)

    def url_of(self, service: str) -> str:
        if service in self.service_urls:
            return self.service_urls[service].rstrip("/")
        return f"http://{self.service_host}:{SERVICE_PORTS[service]}"

    def pipeline_services(self) -> list[str]:
        return [name for name in SERVICE_PORTS if name != "dashboard"]
