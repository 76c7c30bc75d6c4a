"""Rules shared by the compose and Kubernetes checks: what the code says is valid."""

from __future__ import annotations

from collections.abc import Iterable

from gridstream.config import SERVICE_PORTS, env_var_names

SERVICES = sorted(SERVICE_PORTS)


def unknown_settings(names: Iterable[str]) -> list[str]:
    """Variable names a GridStream container is given that no setting reads."""
    known = env_var_names()
    return sorted(n for n in names if n not in known)


def service_command(name: str) -> list[str]:
    """What a container runs to be service ``name``."""
    return ["gridstream", "service", name]
