"""Writing a benchmark result to disk, and reading one back as a baseline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gridstream.errors import ConfigError


def load_result(path: Path) -> dict[str, Any]:
    """An earlier ``bench.json``; a clear error when it is not one."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"baseline {path}: not a readable JSON file ({exc})") from None
    if not isinstance(data, dict) or "readings_per_s" not in data:
        raise ConfigError(f"baseline {path}: not a gridstream bench result (no readings_per_s)")
    return data


def save_result(
    result: dict[str, Any], folder: Path, baseline: dict[str, Any] | None = None
) -> None:
    """Print the tables on stderr and write them, with the JSON document, to ``folder``.

    With a baseline, the before/after rows are printed too and stored in the document under
    ``"baseline"``."""
    from rich.console import Console

    from gridstream.bench.compare import compare, comparison_json, same_setup
    from gridstream.bench.compare import service_cpu_ms_per_reading as cpu_per_reading
    from gridstream.bench.report import render, render_comparison

    result["service_cpu_ms_per_reading"] = cpu_per_reading(result)
    console = Console(stderr=True, record=True)
    render(result, console)
    if baseline is not None:
        rows = compare(result, baseline)
        differs = same_setup(result, baseline)
        render_comparison(rows, differs, console)
        result["baseline"] = {"rows": comparison_json(rows), "setup_differs": differs}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bench.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    (folder / "bench.txt").write_text(console.export_text())
