"""The benchmark's result: one JSON document and a human-readable table (rich, on stderr)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gridstream.bench.latency import OUTPUTS, LatencyResult

if TYPE_CHECKING:
    from rich.console import Console

    from gridstream.bench.compare import Row

#: targets on the reference 2-core machine (issue 25's), shown beside the measurements
TARGETS = {
    "readings_per_s": 3_500.0,
    "ratio_to_broker_bound": 0.3,
    "service_cpu_ms_per_reading": 0.5,
    "p99_forecast_ms": 100.0,
    "p99_action_ms": 250.0,
    "rss_mb": 300.0,
}


def latency_fields(latency: LatencyResult) -> dict[str, Any]:
    out: dict[str, Any] = {"latency_ms_p50": {}, "latency_ms_p99": {}, "latency_ms_max": {}}
    for stage in OUTPUTS:
        out["latency_ms_p50"][stage] = latency.percentile(stage, 50)
        out["latency_ms_p99"][stage] = latency.percentile(stage, 99)
        out["latency_ms_max"][stage] = latency.percentile(stage, 100)
    out["latency_samples"] = {s: len(v) for s, v in latency.samples_ms.items()}
    out["latency_readings"] = latency.readings
    out["latency_rate_per_s"] = round(latency.readings / latency.seconds, 1)
    return out


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):  # a ratio below 1 keeps its digits (0.051 is not "0.1")
        return f"{value:,.3f}{unit}" if abs(value) < 1 else f"{value:,.1f}{unit}"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    return f"{value}{unit}"


def render(result: dict[str, Any], console: Console | None = None) -> None:
    """Print the result as tables (on stderr unless another console is given)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console(stderr=True)
    head = Table(title="GridStream benchmark", show_header=True)
    head.add_column("measure")
    head.add_column("value", justify="right")
    head.add_column("target", justify="right")
    from gridstream.bench.compare import service_cpu_ms_per_reading, streaming_cpu_ms_per_reading

    instances = result.get("instances") or {}
    setup = f"{result.get('partitions', 3)} partitions; " + (
        ", ".join(f"{n} ×{k}" for n, k in instances.items()) or "one instance each"
    )
    rows = [
        ("setup", setup, ""),
        ("readings/s end to end", result["readings_per_s"], "≥ 3,500"),
        ("ceiling msgs/s (raw produce→consume)", result["ceiling_msgs_per_s"], ""),
        ("topic hops", result["hops"], ""),
        ("broker-bound limit readings/s", result["broker_bound_readings_per_s"], ""),
        ("ratio to broker-bound limit", result["ratio_to_broker_bound"], "≥ 0.3"),
        ("service CPU ms per reading", service_cpu_ms_per_reading(result), "≤ 0.5"),
        ("  of which the trainer's model work (s)", result.get("trainer_model_cpu_s"), ""),
        ("  less the trainer's model work", streaming_cpu_ms_per_reading(result), ""),
        ("raw readings", result["raw_readings"], ""),
        ("pipeline seconds", result["pipeline_seconds"], ""),
        ("counts reconcile", result["counts_reconcile"], "True"),
        ("load average (1 min) before/after", result["load_avg"], ""),
    ]
    for name, value, target in rows:
        head.add_row(name, _fmt(value), target)
    console.print(head)
    lat = Table(
        title=f"latency at {result['latency_rate_per_s']} readings/s (ms), started "
        f"{result.get('latency_settle_s', 0)} s after the replay once the services were quiet"
    )
    for col in ("reading →", "p50", "p99", "max", "samples", "target p99"):
        lat.add_column(col, justify="right" if col != "reading →" else "left")
    targets = {"forecast": "≤ 100", "action": "≤ 250"}
    for stage in OUTPUTS:
        lat.add_row(
            stage,
            _fmt(result["latency_ms_p50"][stage]),
            _fmt(result["latency_ms_p99"][stage]),
            _fmt(result["latency_ms_max"][stage]),
            _fmt(result["latency_samples"][stage]),
            targets.get(stage, ""),
        )
    console.print(lat)
    mem = Table(
        title="per process: peak RSS (MB, target ≤ 300), CPU seconds in the throughput phase "
        "and CPU share (% of a core) in the latency phase"
    )
    mem.add_column("process")
    mem.add_column("peak MB", justify="right")
    mem.add_column("CPU s replay", justify="right")
    mem.add_column("CPU % live", justify="right")
    cpu = result.get("pipeline_cpu_s", {})
    live = result.get("latency_cpu_s", {})
    seconds = result.get("latency_cpu_window_s") or 0.0
    names = [*result["peak_rss_mb"], *(n for n in cpu if n not in result["peak_rss_mb"])]
    for name in names:
        share = 100.0 * live[name] / seconds if name in live and seconds else None
        mem.add_row(name, _fmt(result["peak_rss_mb"].get(name)), _fmt(cpu.get(name)), _fmt(share))
    console.print(mem)
    if result.get("missing_stages"):
        console.print(f"stages not available yet: {', '.join(result['missing_stages'])}")


def render_comparison(rows: list[Row], differs: list[str], console: Console | None = None) -> None:
    """The before/after table of ``--baseline``."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console(stderr=True)
    table = Table(title="against the baseline (same machine; after / before)")
    for col in ("measure", "before", "after", "factor", ""):
        table.add_column(col, justify="left" if col == "measure" else "right")
    marks = {True: "better", False: "worse", None: ""}
    for row in rows:
        factor = f"×{row.factor:g}" if row.factor is not None else "-"
        table.add_row(row.measure, _fmt(row.before), _fmt(row.after), factor, marks[row.better])
    console.print(table)
    if differs:
        console.print(f"[yellow]the runs differ in {', '.join(differs)}: compare with care[/]")
