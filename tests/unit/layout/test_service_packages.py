"""Each service is one package under ``services/``, named once by the registry."""

from __future__ import annotations

from pathlib import Path

from gridstream.services.registry import SERVICE_MODULES

SERVICES = Path(__file__).resolve().parents[3] / "src" / "gridstream" / "services"
HOSTING = {"__init__.py", "base.py", "host.py", "registry.py", "logs.py", "memory.py"}


def _packages() -> set[str]:
    return {p.name for p in SERVICES.iterdir() if (p / "__init__.py").is_file()}


def test_the_registry_names_each_service_package_once() -> None:
    named = [m for m in SERVICE_MODULES.values() if m.startswith("gridstream.services.")]
    packages = [m.split(".")[2] for m in named]
    assert sorted(packages) == sorted(_packages())
    assert len(set(packages)) == len(packages) == 9
    assert all(m.endswith(".service") for m in named)


def test_every_package_has_a_service_module_with_build() -> None:
    for package in _packages():
        text = (SERVICES / package / "service.py").read_text()
        assert "\ndef build(" in text, f"{package}/service.py has no build(settings)"


def test_only_hosting_modules_sit_beside_the_packages() -> None:
    loose = {p.name for p in SERVICES.iterdir() if p.is_file() and p.suffix in {".py", ".yaml"}}
    assert loose <= HOSTING, f"move {sorted(loose - HOSTING)} into a service package, core/ or bus/"
