"""Models and configs load safely: no pickle anywhere, YAML safe loading, size limits.

The source tree is searched for every way Python can execute code while loading data
(pickle and its relatives, unsafe YAML loaders, ``eval``/``exec``, ``allow_pickle=True``);
the YAML loaders of the alert rules and the battery fleet are fed a document that would run
a command under an unsafe loader; oversized rules and fleet files are refused unread.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gridstream.core.storage.fleet import MAX_FLEET_BYTES, FleetConfigError, load_fleet_config
from gridstream.errors import ConfigError
from gridstream.services.alert_engine.rules import MAX_RULES_BYTES, load_rules_file

pytestmark = pytest.mark.integration
SRC = Path(__file__).resolve().parents[2] / "src" / "gridstream"
UNSAFE = [
    r"\bimport (c?pickle|dill|cloudpickle|joblib|marshal|shelve)\b",
    r"\bfrom (c?pickle|dill|cloudpickle|joblib|marshal|shelve) import\b",
    r"\bpickle\.loads?\(",
    r"allow_pickle\s*=\s*True",
    r"\byaml\.(load|unsafe_load|full_load|load_all|unsafe_load_all)\(",
    r"yaml\.(Unsafe|Full)?Loader\b",
    r"(?<![\w.])(eval|exec)\(",
    r"torch\.load\(",
    r"\.read_pickle\(",
]
EXPLOIT = "!!python/object/apply:os.system ['touch {marker}']\n"


def _python_sources() -> list[Path]:
    return [p for p in SRC.rglob("*.py") if "schemas" not in p.parts]


def test_no_code_executing_loader_anywhere_in_the_source() -> None:
    sources = _python_sources()
    assert len(sources) > 50  # the search really ran over the package
    found = []
    for path in sources:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            found.extend(
                f"{path.relative_to(SRC)}:{number}: {line.strip()}"
                for pattern in UNSAFE
                if re.search(pattern, code)
            )
    assert found == []


def test_yaml_tags_cannot_run_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    rules = tmp_path / "rules.yaml"
    rules.write_text(EXPLOIT.format(marker=marker))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_rules_file(rules)
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("fleets: " + EXPLOIT.format(marker=marker))
    with pytest.raises(FleetConfigError):
        load_fleet_config(fleet)
    assert not marker.exists()


def test_oversized_configs_are_refused(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("# padding\n" * (MAX_RULES_BYTES // 10 + 1))
    with pytest.raises(ConfigError, match="more than"):
        load_rules_file(rules)
    fleet = tmp_path / "fleet.toml"
    fleet.write_text("# padding\n" * (MAX_FLEET_BYTES // 10 + 1))
    with pytest.raises(FleetConfigError, match="more than"):
        load_fleet_config(fleet)
