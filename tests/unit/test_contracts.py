"""The generated modules are current, and the contracts stay backward compatible."""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_generated_modules_are_current(tmp_path: Path) -> None:
    gen = _load_tool("gen_proto")
    gen.generate(tmp_path)
    committed = REPO / "src" / "gridstream" / "schemas"
    fresh = {p.name: p.read_text() for p in tmp_path.iterdir()}
    current = {p.name: p.read_text() for p in committed.iterdir() if p.is_file()}
    stale = sorted(n for n in fresh if current.get(n) != fresh[n])
    assert not stale, f"run `make proto`: stale generated files {stale}"
    extra = sorted(set(current) - set(fresh))
    assert not extra, f"generated files without a .proto: {extra}"


def test_locked_fields_keep_number_and_type() -> None:
    lock = json.loads((REPO / "proto" / "compat" / "fields.lock.json").read_text())
    current = _load_tool("proto_lock").current_fields()
    problems = []
    for message, fields in lock.items():
        now = current.get(message)
        if now is None:
            problems.append(f"{message} removed")
            continue
        for name, spec in fields.items():
            if name not in now:
                problems.append(f"{message}.{name} removed (reserve its number instead)")
            elif now[name] != spec:
                problems.append(f"{message}.{name} changed {spec} -> {now[name]}")
    assert not problems, "backward-incompatible contract change: " + "; ".join(problems)


def test_field_numbers_unique_and_not_reused() -> None:
    lock = json.loads((REPO / "proto" / "compat" / "fields.lock.json").read_text())
    current = _load_tool("proto_lock").current_fields()
    for message, fields in current.items():
        numbers = [spec[0] for spec in fields.values()]
        assert len(numbers) == len(set(numbers)), message
        locked = {spec[0]: name for name, spec in lock.get(message, {}).items()}
        for name, spec in fields.items():
            owner = locked.get(spec[0])
            assert owner in (None, name), f"{message}: number {spec[0]} of {owner} reused by {name}"


@pytest.mark.parametrize(
    "module",
    [
        "readings",
        "features",
        "forecast",
        "anomaly",
        "alert",
        "storage",
        "rebalance",
        "model",
        "dead_letter",
    ],
)
def test_every_contract_module_imports(module: str) -> None:
    mod = importlib.import_module(f"gridstream.schemas.{module}_pb2")
    assert mod.DESCRIPTOR.package == "gridstream.v1"
