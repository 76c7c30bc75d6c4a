"""The services GridStream runs, by name, and where their ``build(settings)`` lives."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from gridstream.errors import ConfigError

if TYPE_CHECKING:
    from gridstream.config import Settings
    from gridstream.services.host import ServiceParts

SERVICE_MODULES: dict[str, str] = {
    "smart-ingestor": "gridstream.services.ingestor.service",
    "smart-preprocessor": "gridstream.services.preprocessor.service",
    "smart-ml-preprocessor": "gridstream.services.ml_preprocessor.service",
    "smart-model-trainer": "gridstream.services.trainer.service",
    "smart-ml-forecaster": "gridstream.services.forecaster.service",
    "smart-anomaly-detector": "gridstream.services.anomaly_detector.service",
    "smart-alert-engine": "gridstream.services.alert_engine.service",
    "smart-storage-optimizer": "gridstream.services.storage_optimizer.service",
    "smart-grid-rebalancer": "gridstream.services.grid_rebalancer.service",
    "dashboard": "gridstream.dashboard.service",
}


def builder(name: str) -> Callable[[Settings], ServiceParts]:
    module_name = SERVICE_MODULES.get(name)
    if module_name is None:
        known = ", ".join(SERVICE_MODULES)
        raise ConfigError(f"unknown service {name!r}: choose one of {known}")
    module = importlib.import_module(module_name)
    build: Callable[[Settings], ServiceParts] = module.build
    return build


def build_service_process(name: str, settings: Settings) -> ServiceParts:
    """Set up this process for service ``name`` and build it: the service log format, the
    malloc arena cap (before the Kafka clients start their threads), then ``build``."""
    from gridstream.services.logs import configure_service_logging
    from gridstream.services.memory import limit_malloc_arenas

    configure_service_logging(name, settings.log_format, settings.log_level)
    limit_malloc_arenas(settings.malloc_arenas)
    return builder(name)(settings)
