"""Battery fleets per region: validated configuration loaded from TOML, JSON or YAML.

A fleet is the aggregate of a region's batteries, modelled as one battery: energy capacity,
charge/discharge power, SoC bounds, one-way efficiencies, throughput (degradation) cost,
initial and terminal SoC and a ramp limit. Fractions are of the energy capacity.
"""

from __future__ import annotations

import importlib
import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gridstream.errors import ConfigError

REGIONS = ("ALL", "ROI", "NI")


class FleetConfigError(ConfigError):
    """A battery fleet configuration file is missing, unreadable or invalid."""


class BatteryFleet(BaseModel):
    """One region's storage fleet, aggregated."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str = Field(min_length=1)
    energy_mwh: float = Field(gt=0, description="usable + reserved energy capacity, MWh")
    charge_mw: float = Field(gt=0, description="maximum charging power, MW")
    discharge_mw: float = Field(gt=0, description="maximum discharging power, MW")
    soc_min: float = Field(0.1, ge=0, le=1, description="lowest SoC, fraction of energy_mwh")
    soc_max: float = Field(0.9, ge=0, le=1, description="highest SoC, fraction of energy_mwh")
    charge_efficiency: float = Field(0.92, gt=0, le=1)
    discharge_efficiency: float = Field(0.92, gt=0, le=1)
    throughput_cost_per_mwh: float = Field(
        2.0, ge=0, description="degradation cost per MWh charged or discharged"
    )
    initial_soc: float = Field(0.5, ge=0, le=1)
    terminal_soc: float | None = Field(
        0.5, ge=0, le=1, description="minimum SoC at the end of each horizon; None: free"
    )
    ramp_mw_per_step: float | None = Field(
        None, gt=0, description="largest change of net power between steps; None: unlimited"
    )

    @model_validator(mode="after")
    def _consistent(self) -> BatteryFleet:
        if self.soc_min >= self.soc_max:
            raise ValueError(f"soc_min ({self.soc_min}) must be below soc_max ({self.soc_max})")
        if not self.soc_min <= self.initial_soc <= self.soc_max:
            raise ValueError(
                f"initial_soc ({self.initial_soc}) must lie within "
                f"[soc_min, soc_max] = [{self.soc_min}, {self.soc_max}]"
            )
        if self.terminal_soc is not None and not (
            self.soc_min <= self.terminal_soc <= self.soc_max
        ):
            raise ValueError(
                f"terminal_soc ({self.terminal_soc}) must lie within "
                f"[soc_min, soc_max] = [{self.soc_min}, {self.soc_max}]"
            )
        return self

    @property
    def soc_min_mwh(self) -> float:
        return self.soc_min * self.energy_mwh

    @property
    def soc_max_mwh(self) -> float:
        return self.soc_max * self.energy_mwh

    @property
    def round_trip_efficiency(self) -> float:
        return self.charge_efficiency * self.discharge_efficiency


class FleetConfig(BaseModel):
    """Fleets by region, as read from a configuration file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fleets: dict[str, BatteryFleet]

    @model_validator(mode="before")
    @classmethod
    def _fill_region(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("fleets"), dict):
            fleets = {}
            for region, body in data["fleets"].items():
                if isinstance(body, dict):
                    body = {"region": region, **body}
                fleets[region] = body
            data = {**data, "fleets": fleets}
        return data

    @model_validator(mode="after")
    def _names_match(self) -> FleetConfig:
        for key, fleet in self.fleets.items():
            if fleet.region != key:
                raise ValueError(f"fleet under [fleets.{key}] says region={fleet.region!r}")
        return self

    def for_region(self, region: str) -> BatteryFleet:
        """The fleet of ``region``, or a FleetConfigError naming the configured regions."""
        try:
            return self.fleets[region]
        except KeyError:
            known = ", ".join(sorted(self.fleets)) or "none"
            raise FleetConfigError(
                f"no battery fleet configured for region {region!r} (configured: {known}); "
                f"add a [fleets.{region}] section to the fleet configuration file"
            ) from None


def _parse(path: Path, text: str) -> Any:
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return tomllib.loads(text)
    if suffix == ".json":
        return json.loads(text)
    if suffix in (".yaml", ".yml"):
        try:
            yaml = importlib.import_module("yaml")
        except ModuleNotFoundError:
            raise FleetConfigError(
                f"{path}: reading YAML needs PyYAML; `pip install pyyaml` or use TOML/JSON"
            ) from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:  # not a ValueError: it escaped as a raw trace
            raise FleetConfigError(f"{path}: not valid YAML: {exc}") from None
    raise FleetConfigError(f"{path}: unknown fleet configuration format; use .toml, .json or .yaml")


def parse_fleet_config(data: Any, origin: str = "<config>") -> FleetConfig:
    """Validate an already-parsed mapping; errors name the offending field and what to fix."""
    try:
        return FleetConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise FleetConfigError(
            f"{origin}: invalid battery fleet configuration: {problems}"
        ) from None


MAX_FLEET_BYTES = 1_048_576  # a fleet file is a few KB; refuse to parse anything huge


def load_fleet_config(path: Path | None = None) -> FleetConfig:
    """Read and validate a fleet configuration; ``None`` loads the packaged default."""
    if path is None:
        text = resources.files(__package__).joinpath("default_fleet.toml").read_text("utf-8")
        return parse_fleet_config(tomllib.loads(text), "default_fleet.toml")
    try:
        size = path.stat().st_size
        text = path.read_text("utf-8") if size <= MAX_FLEET_BYTES else ""
    except OSError as exc:
        raise FleetConfigError(f"cannot read fleet configuration {path}: {exc.strerror}") from None
    if size > MAX_FLEET_BYTES:
        raise FleetConfigError(
            f"fleet configuration {path} is {size} bytes, more than {MAX_FLEET_BYTES}: "
            "point GRIDSTREAM_STORAGE_FLEET_FILE at the fleet file, not at data"
        )
    try:
        data = _parse(path, text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise FleetConfigError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from None
    return parse_fleet_config(data, str(path))
