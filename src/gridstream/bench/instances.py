"""How many processes of each service a benchmark runs (``--instances``).

On a real cluster a consumer group grows by adding members: each instance of a service is its
own process in the same group with its own transactional id (``GRIDSTREAM_INSTANCE_ID``), and
the group splits the input partitions between them. The rebalancer, the alert engine and the
trainer are single-instance by design (global safety limits; one alert view; a checkpoint
decision joins a region's demand, wind and CO2, which two instances would split), so they
cannot be scaled.
"""

from __future__ import annotations

from gridstream.errors import ConfigError
from gridstream.services.registry import SERVICE_MODULES

SINGLETONS = ("smart-grid-rebalancer", "smart-alert-engine", "smart-model-trainer")


def service_name(raw: str) -> str:
    """``anomaly-detector`` or ``smart-anomaly-detector`` -> ``smart-anomaly-detector``."""
    name = raw.strip()
    name = name if name.startswith("smart-") else f"smart-{name}"
    if name not in SERVICE_MODULES or name in ("smart-ingestor", "dashboard"):
        known = ", ".join(s for s in SERVICE_MODULES if s not in ("smart-ingestor", "dashboard"))
        raise ConfigError(f"--instances: unknown service {raw!r}; choose from {known}")
    return name


def parse_instances(text: str | None) -> dict[str, int]:
    """``svc=K,svc=K`` -> {service: K}; a service not named runs one instance."""
    out: dict[str, int] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        raw, sep, count = part.partition("=")
        if not sep or not count.strip().isdigit() or int(count) < 1:
            raise ConfigError(f"--instances: {part!r} is not service=COUNT (COUNT >= 1)")
        name = service_name(raw)
        if name in SINGLETONS and int(count) > 1:
            raise ConfigError(f"--instances: {name} runs as one instance by design")
        out[name] = int(count)
    return out


def instance_label(service: str, index: int) -> str:
    """The name of instance ``index`` (0-based) in the tables: ``service``, ``service#2``..."""
    return service if index == 0 else f"{service}#{index + 1}"
