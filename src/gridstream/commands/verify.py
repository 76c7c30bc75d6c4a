"""``gridstream verify``: fault-injection checks that anyone can run (exactly-once, scale-out).

Each command is self-contained: it starts a temporary broker (or 3-node cluster) and the
services it needs as subprocesses, replays a slice of recorded data, and removes everything
afterwards. The last line on stdout is one JSON document; logs go to stderr.
"""

from __future__ import annotations

import logging
import signal
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, TypedDict

import typer

from gridstream.commands._common import emit_json, friendly_errors, setup_cli_logging

verify_app = typer.Typer(
    help="Prove exactly-once under faults: SIGKILLs, broker restarts, scale-out.",
    no_args_is_help=True,
)

DEFAULT_DATA = Path("..") / "shared" / "data" / "eirgrid"

DataOpt = Annotated[Path, typer.Option("--data", help="Folder of recorded *_Eirgrid.csv.gz files.")]
StartOpt = Annotated[
    datetime, typer.Option("--start", formats=["%Y-%m-%d"], help="First day of the slice.")
]
DaysOpt = Annotated[int, typer.Option("--days", min=1, help="Days of data to replay.")]
RegionsOpt = Annotated[str, typer.Option("--regions", help="Comma-separated regions.")]
ReplayOpt = Annotated[
    float,
    typer.Option(
        "--replay-seconds", min=1.0, help="Wall time the paced replay of the slice takes."
    ),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the random fault plan.")]
KeepOpt = Annotated[
    Path | None, typer.Option("--keep", help="Keep the run folders (logs) under this folder.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print only one JSON line on stdout.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Debug logs on stderr.")]


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds: every process and broker started is stopped


def _logging(verbose: bool) -> None:
    setup_cli_logging(verbose)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.getLogger("httpx").setLevel(logging.DEBUG if verbose else logging.WARNING)


def _regions(text: str) -> tuple[str, ...]:
    return tuple(r.strip().upper() for r in text.split(",") if r.strip())


class _Slice(TypedDict):
    """The replayed slice and run options that every verify scenario takes."""

    start: date
    days: int
    regions: tuple[str, ...]
    replay_s: float
    seed: int
    keep: Path | None


def _slice(
    start: datetime, days: int, regions: str, replay_s: float, seed: int, keep: Path | None
) -> _Slice:
    return _Slice(
        start=start.date(),
        days=days,
        regions=_regions(regions),
        replay_s=replay_s,
        seed=seed,
        keep=keep,
    )


def _finish(report: dict[str, object], as_json: bool) -> None:
    """Print the report (a table unless ``--json``, then the JSON line); exit 1 if it failed."""
    if not as_json:
        topics = report.get("topics", {})
        assert isinstance(topics, dict)
        typer.echo(f"{'topic':<16}{'expected':>10}{'lost':>7}{'dup':>7}{'unexp':>7}{'diff':>7}")
        for name, t in topics.items():
            typer.echo(
                f"{name:<16}{t['expected']:>10}{t['lost']:>7}{t['duplicated']:>7}"
                f"{t['unexpected']:>7}{t['differing']:>7}"
            )
        typer.echo("OK: nothing lost, duplicated or different" if report["ok"] else "FAILED")
    emit_json(report)
    if not report["ok"]:
        raise typer.Exit(1)


@verify_app.command("exactly-once")
@friendly_errors
def exactly_once(
    data: DataOpt = DEFAULT_DATA,
    kills: Annotated[int, typer.Option("--kills", min=0, help="SIGKILLs of random services.")] = 3,
    broker_restart: Annotated[
        bool, typer.Option("--broker-restart", help="Stop and restart the broker mid-replay.")
    ] = False,
    nodes: Annotated[
        int, typer.Option("--nodes", min=1, max=5, help="Nodes of the temporary cluster.")
    ] = 1,
    kill_broker: Annotated[
        bool, typer.Option("--kill-broker", help="SIGKILL one node mid-replay (needs --nodes 3).")
    ] = False,
    services: Annotated[
        str | None,
        typer.Option(
            "--services",
            help="Comma-separated services (default: ingestor, preprocessor, ml-preprocessor, "
            "ml-forecaster).",
        ),
    ] = None,
    models: Annotated[
        Path | None,
        typer.Option(
            "--models",
            help="A model registry for the forecaster (default: none, "
            "seasonal-naive), the same in both runs.",
        ),
    ] = None,
    start: StartOpt = datetime(2021, 9, 1),
    days: DaysOpt = 7,
    regions: RegionsOpt = "ALL",
    replay_seconds: ReplayOpt = 40.0,
    seed: SeedOpt = 0,
    keep: KeepOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Replay real data twice (clean, then with faults) and compare every output topic.

    Exit code 0 when nothing was lost, duplicated, unexpected or different; 1 otherwise.
    """
    from gridstream.verify.exactly_once import ExactlyOnceOptions, verify_exactly_once
    from gridstream.verify.pipeline import resolve_services

    _logging(verbose)
    options = ExactlyOnceOptions(
        data=data,
        services=resolve_services(services),
        kills=kills,
        broker_restart=broker_restart,
        nodes=nodes,
        kill_broker=kill_broker,
        models=models,
        **_slice(start, days, regions, replay_seconds, seed, keep),
    )
    _finish(verify_exactly_once(options), as_json)


@verify_app.command("scale-out")
@friendly_errors
def scale_out(
    data: DataOpt = DEFAULT_DATA,
    service: Annotated[
        str,
        typer.Option(
            "--service",
            help="The service run as two instances in one group; a comma-separated list, or "
            "'downstream' for every downstream service but the single-instance rebalancer, "
            "alert engine and trainer (over the whole chain).",
        ),
    ] = "smart-preprocessor",
    start: StartOpt = datetime(2021, 9, 1),
    days: DaysOpt = 3,
    regions: RegionsOpt = "ALL",
    replay_seconds: ReplayOpt = 30.0,
    seed: SeedOpt = 0,
    keep: KeepOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Two instances of a service share the partitions; one is SIGKILLed mid-replay and the
    other takes over its partitions and keyed state: compared with a one-instance clean run."""
    from gridstream.verify.scale_out import ScaleOutOptions, verify_scale_out

    _logging(verbose)
    options = ScaleOutOptions(
        data=data, service=service, **_slice(start, days, regions, replay_seconds, seed, keep)
    )
    _finish(verify_scale_out(options), as_json)


def register(app: typer.Typer) -> None:
    app.add_typer(verify_app, name="verify")
