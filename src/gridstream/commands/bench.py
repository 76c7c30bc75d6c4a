"""``gridstream bench``: end-to-end throughput, latency and memory of the whole pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gridstream.commands._common import emit_json, friendly_errors, setup_cli_logging


@friendly_errors
def bench(
    days: Annotated[
        float, typer.Option(min=0.01, help="Days of data replayed (from 1 Jan of --year).")
    ] = 365.0,
    year: Annotated[int, typer.Option(help="Year of recorded data to replay.")] = 2021,
    regions: Annotated[
        str, typer.Option(help="Comma-separated regions (ALL = all-island; ALL,ROI,NI).")
    ] = "ALL",
    rate: Annotated[
        float, typer.Option(min=1, help="Readings per second in the latency phase.")
    ] = 100.0,
    latency_seconds: Annotated[
        float, typer.Option(min=1, help="Length of the latency phase in seconds.")
    ] = 30.0,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Largest batch (one transaction) per service.")
    ] = 5000,
    data: Annotated[
        Path | None, typer.Option(help="Folder of recorded EirGrid files (default ../shared/data).")
    ] = None,
    bootstrap: Annotated[
        str | None,
        typer.Option(
            help="Use this running broker (random topic/group names) instead of a temporary one."
        ),
    ] = None,
    log_dir: Annotated[
        Path | None, typer.Option(help="Keep the services' logs in this folder.")
    ] = None,
    output: Annotated[
        Path,
        typer.Option(
            help="Folder for the result: bench.json (the document) and bench.txt (the tables)."
        ),
    ] = Path("bench-results"),
    baseline: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="An earlier run's bench.json: print before/after figures against it.",
        ),
    ] = None,
    partitions: Annotated[
        int, typer.Option(min=1, max=64, help="Partitions of every topic (consumer-group width).")
    ] = 3,
    instances: Annotated[
        str | None,
        typer.Option(
            help="Processes per service, e.g. anomaly-detector=2,storage-optimizer=2 (each its "
            "own consumer-group member); others run one. The rebalancer, alert engine and "
            "trainer run one by design."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON line (the result) on stdout.")
    ] = False,
) -> None:
    """Measure the raw Kafka ceiling, the pipeline's readings/s in exactly-once mode, latency
    at a live-like rate and each service's peak memory, on a temporary broker.

    Prints tables on stderr and writes them with the JSON document to --output; with
    --baseline also the figures before and after; with --json the result as one JSON line on
    stdout (holding the comparison too, under "baseline").
    """
    setup_cli_logging()
    import logging

    from rich.console import Console

    from gridstream.bench.data import DEFAULT_DATA
    from gridstream.bench.instances import parse_instances
    from gridstream.bench.run import BenchOptions, run_bench
    from gridstream.bench.saved import load_result, save_result

    options = BenchOptions(
        data=data or DEFAULT_DATA,
        regions=tuple(r.strip() for r in regions.split(",") if r.strip()),
        year=year,
        days=days,
        rate_per_s=rate,
        latency_s=latency_seconds,
        batch_size=batch_size,
        bootstrap=bootstrap,
        log_dir=log_dir,
        partitions=partitions,
        instances=parse_instances(instances),
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    before = load_result(baseline) if baseline else None  # a bad file fails before the run
    console = Console(stderr=True)
    with console.status("benchmark") as status:
        result = run_bench(options, progress=lambda text: status.update(text))
    save_result(result, output, before)
    if as_json:
        emit_json(result)


@friendly_errors
def bench_dashboard(
    url: Annotated[
        str | None, typer.Option(help="Dashboard URL [default: the running stack's].")
    ] = None,
    seconds: Annotated[float, typer.Option(min=1, help="How long to measure.")] = 60.0,
    path: Annotated[
        list[str] | None,
        typer.Option(help="A path to time (repeat it) [default: /api/snapshot?region=ALL and /]."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")] = False,
) -> None:
    """Time the running dashboard's answers (/api/snapshot and the page): p50, p95, p99 and
    the largest, per path. Run it while the pipeline works flat out (`up --speed max`)."""
    from rich.console import Console
    from rich.progress import Progress

    from gridstream.bench.http_latency import PATHS, measure
    from gridstream.errors import ConfigError

    if url is None:
        from gridstream.config import load_settings
        from gridstream.stack.files import StackFiles

        plan = StackFiles(load_settings().state_dir).read_plan()
        if plan is None:
            raise ConfigError("no running stack: start one (gridstream up) or give --url")
        url = plan.url_of("dashboard")
    with Progress(transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task(f"GET {url}", total=1.0)
        result = measure(
            url, seconds, path or PATHS, tick=lambda done: bar.update(task, completed=done)
        )
    paths = result.summary()
    doc = {"url": url, "seconds": seconds, "paths": paths}
    if as_json:
        emit_json(doc)
        return
    typer.echo(
        f"{'path':26} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    )
    for name, row in paths.items():
        typer.echo(
            f"{name:26} {row['requests']:>8} {row['errors']:>6} {row['p50_ms']!s:>8} "
            f"{row['p99_ms']!s:>8} {row['max_ms']!s:>8}"
        )


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
    app.command("bench-dashboard")(bench_dashboard)
