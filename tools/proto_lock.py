"""Record every field (name, number, type) of the contracts in proto/compat/fields.lock.json.

The lock only grows: ``tests/unit/test_contracts.py`` fails when a locked field changed its
number or type, or disappeared, so old records stay readable. Run after adding fields:
    .venv/bin/python tools/proto_lock.py
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "proto" / "compat" / "fields.lock.json"


def current_fields() -> dict[str, dict[str, list[object]]]:
    import gridstream.schemas as schemas

    out: dict[str, dict[str, list[object]]] = {}
    for info in pkgutil.iter_modules(schemas.__path__):
        if not info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(f"gridstream.schemas.{info.name}")
        for msg in module.DESCRIPTOR.message_types_by_name.values():
            fields = {f.name: [f.number, f.type, int(f.is_repeated)] for f in msg.fields}
            out[msg.full_name] = dict(sorted(fields.items()))
        for enum in module.DESCRIPTOR.enum_types_by_name.values():
            out[enum.full_name] = {v.name: [v.number, 0, 0] for v in enum.values}
    return dict(sorted(out.items()))


def main() -> None:
    lock = json.loads(LOCK.read_text()) if LOCK.exists() else {}
    for name, fields in current_fields().items():
        lock.setdefault(name, {}).update(fields)
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    LOCK.write_text(json.dumps(dict(sorted(lock.items())), indent=1, sort_keys=True) + "\n")
    print(f"{LOCK.relative_to(ROOT)}: {len(lock)} messages and enums")


if __name__ == "__main__":
    main()
