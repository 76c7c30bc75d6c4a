"""Fleet configuration: the packaged default, file formats and clear validation errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gridstream.core.storage import FleetConfigError, load_fleet_config


def test_default_config_has_all_regions() -> None:
    config = load_fleet_config()
    assert set(config.fleets) == {"ALL", "ROI", "NI"}
    assert config.for_region("ALL").energy_mwh == 1000.0


def test_json_and_toml_load_the_same(tmp_path: Path) -> None:
    body = {"energy_mwh": 10.0, "charge_mw": 5.0, "discharge_mw": 4.0}
    (tmp_path / "f.json").write_text(json.dumps({"fleets": {"NI": body}}))
    (tmp_path / "f.toml").write_text(
        "[fleets.NI]\nenergy_mwh = 10.0\ncharge_mw = 5.0\ndischarge_mw = 4.0\n"
    )
    a = load_fleet_config(tmp_path / "f.json").for_region("NI")
    b = load_fleet_config(tmp_path / "f.toml").for_region("NI")
    assert a == b and a.discharge_mw == 4.0


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("energy_mwh = -1.0\ncharge_mw = 5.0\ndischarge_mw = 5.0", "energy_mwh"),
        (
            "energy_mwh = 1.0\ncharge_mw = 5.0\ndischarge_mw = 5.0\nsoc_min = 0.9\nsoc_max = 0.2",
            "soc_min (0.9) must be below soc_max",
        ),
        (
            "energy_mwh = 1.0\ncharge_mw = 5.0\ndischarge_mw = 5.0\ninitial_soc = 0.95",
            "initial_soc",
        ),
        ("energy_mwh = 1.0\ncharge_mw = 5.0\ndischarge_mw = 5.0\ncolour = 'red'", "colour"),
        (
            "energy_mwh = 1.0\ncharge_mw = 5.0\ndischarge_mw = 5.0\ncharge_efficiency = 1.5",
            "charge_efficiency",
        ),
    ],
)
def test_invalid_fleets_name_the_field(tmp_path: Path, body: str, fragment: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f"[fleets.ROI]\n{body}\n")
    with pytest.raises(FleetConfigError, match="invalid battery fleet") as info:
        load_fleet_config(path)
    assert fragment in str(info.value)


def test_missing_region_and_file_and_format(tmp_path: Path) -> None:
    with pytest.raises(FleetConfigError, match=r"add a \[fleets.XX\] section"):
        load_fleet_config().for_region("XX")
    with pytest.raises(FleetConfigError, match="cannot read"):
        load_fleet_config(tmp_path / "absent.toml")
    (tmp_path / "f.ini").write_text("x")
    with pytest.raises(FleetConfigError, match="unknown fleet configuration format"):
        load_fleet_config(tmp_path / "f.ini")
    (tmp_path / "broken.toml").write_text("[fleets.ALL\n")
    with pytest.raises(FleetConfigError, match="not valid TOML"):
        load_fleet_config(tmp_path / "broken.toml")
