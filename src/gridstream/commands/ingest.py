"""``gridstream ingest live|backfill|replay|simulate``: EirGrid data into ``raw_energy_data``.

Each command runs the smart-ingestor's job in this process (progress on stderr). ``replay
--count-clean`` is self-contained: it brings its own broker if none answers, runs the
preprocessor and prints the counts of raw, clean and dead-lettered readings.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gridstream.commands._common import emit_json, friendly_errors, setup_cli_logging

if TYPE_CHECKING:
    from gridstream.services.ingestor.jobs import Job
    from gridstream.services.ingestor.service import Ingestor

ingest_app = typer.Typer(
    help="Ingest EirGrid data: live polling, backfill, replay of recorded files, simulation.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print only one JSON line on stdout.")]
RegionsOpt = Annotated[
    str | None, typer.Option("--regions", help="Comma-separated regions (ALL,ROI,NI); default all.")
]
AreasOpt = Annotated[
    str | None,
    typer.Option("--areas", help="Comma-separated API areas (demandactual,...); default all."),
]
SpeedOpt = Annotated[
    float | None,
    typer.Option("--speed", min=0.001, help="Data seconds per wall second (e.g. 3600)."),
]
MaxOpt = Annotated[bool, typer.Option("--max", help="As fast as possible (the default).")]
FromOpt = Annotated[
    datetime | None, typer.Option("--from", help="Start (UTC date or date-time, inclusive).")
]
ToOpt = Annotated[datetime | None, typer.Option("--to", help="End (UTC, exclusive).")]


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip()) if text else ()


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _speed(speed: float | None, fastest: bool) -> float | None:
    if speed is not None and fastest:
        raise typer.BadParameter("choose --speed X or --max, not both")
    return None if fastest else speed


@contextmanager
def _bar(total: float | None, label: str) -> Iterator[Callable[..., None]]:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    task = progress.add_task(label, total=total, info="")
    with progress:

        def update(**kwargs: Any) -> None:
            progress.update(task, **kwargs)

        yield update


def _ingestor() -> Ingestor:
    from gridstream.bus.admin import Admin
    from gridstream.config import load_settings
    from gridstream.errors import BrokerError
    from gridstream.services.ingestor.service import Ingestor
    from gridstream.services.ingestor.settings import IngestSettings

    settings = load_settings()
    if not Admin(settings.kafka(), quiet=True).reachable(timeout=5.0):
        raise BrokerError(
            f"no Kafka answers at {settings.kafka().bootstrap}: start one with "
            "`gridstream broker start` or set GRIDSTREAM_BOOTSTRAP"
        )
    ingestor = Ingestor(settings, IngestSettings().model_copy(update={"source": "idle"}))
    ingestor.open()
    signal.signal(signal.SIGINT, lambda *_: ingestor.stop())
    signal.signal(signal.SIGTERM, lambda *_: ingestor.stop())
    return ingestor


def _run(
    job: Job,
    as_json: bool,
    span: tuple[datetime, datetime] | None = None,
    steps: int | None = None,
) -> None:
    ingestor = _ingestor()
    started = time.monotonic()
    try:
        total = (
            steps if steps is not None else (span[1] - span[0]).total_seconds() if span else None
        )
        with _bar(total, f"{job.mode}") as update:

            def progress(sent: int, ts_ms: int | None) -> None:
                when = datetime.fromtimestamp(ts_ms / 1000, UTC) if ts_ms is not None else None
                info = f"{sent:,} readings" + (f" · {when:%Y-%m-%d %H:%M}Z" if when else "")
                if span is not None and when is not None and steps is None:
                    update(completed=max(0.0, (when - span[0]).total_seconds()), info=info)
                else:
                    update(info=info)

            def step(name: str) -> None:
                update(advance=1)

            sent = ingestor.execute(job, progress, step)
    finally:
        ingestor.sink.close()
    seconds = time.monotonic() - started
    status = ingestor.status()
    summary = {
        "mode": job.mode,
        "raw_readings": sent,
        "seconds": round(seconds, 2),
        "readings_per_s": round(sent / seconds, 1) if seconds > 0 else 0.0,
        "open_gaps": status["open_gaps"],
        "watermarks": {k: v["utc"] for k, v in status["watermarks"].items()},
    }
    if as_json:
        emit_json(summary)
    else:
        typer.echo(f"sent {sent:,} readings in {seconds:.1f} s ({summary['readings_per_s']}/s)")
        for gap in status["open_gaps"]:
            typer.echo(f"gap: {gap['area']}/{gap['region']} {gap['first']}..{gap['last']}")


@ingest_app.command("live")
@friendly_errors
def live(
    poll_seconds: Annotated[float, typer.Option(min=1, help="Seconds between polls.")] = 60.0,
    lookback_hours: Annotated[float, typer.Option(help="Hours re-read per poll.")] = 6.0,
    cycles: Annotated[int | None, typer.Option(help="Stop after N polls (default: never).")] = None,
    regions: RegionsOpt = None,
    areas: AreasOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Poll the EirGrid API every N seconds until Ctrl-C (resumes from the watermarks)."""
    setup_cli_logging()
    from gridstream.services.ingestor.jobs import LiveJob

    job = LiveJob(poll_seconds, lookback_hours, _names(regions), _names(areas), cycles)
    _run(job, as_json)


@ingest_app.command("backfill")
@friendly_errors
def backfill(
    start: Annotated[datetime, typer.Option("--from", help="Start (UTC date, inclusive).")],
    end: Annotated[datetime, typer.Option("--to", help="End (UTC date, exclusive).")],
    regions: RegionsOpt = None,
    areas: AreasOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch a past span from the API, area by area, with a progress bar."""
    setup_cli_logging()
    from gridstream.services.ingestor.jobs import BackfillJob
    from gridstream.sources.catalogue import area_regions

    first, last = _utc(start), _utc(end)
    assert first is not None and last is not None
    if last <= first:
        raise typer.BadParameter("--to must be after --from")
    job = BackfillJob(first, last, _names(regions), _names(areas))
    pairs = len(area_regions(job.areas or None, job.regions or None))
    _run(job, as_json, steps=pairs)


@ingest_app.command("replay")
@friendly_errors
def replay(
    path: Annotated[Path, typer.Argument(exists=True, help="A recorded file or a folder of them.")],
    speed: SpeedOpt = None,
    fastest: MaxOpt = False,
    start: FromOpt = None,
    end: ToOpt = None,
    regions: RegionsOpt = None,
    areas: AreasOpt = None,
    count_clean: Annotated[
        bool,
        typer.Option(
            "--count-clean",
            help="Self-contained run: scratch topics (temporary broker if none answers), "
            "preprocessor in-process, counts of raw/clean/dead-lettered readings.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Replay recorded EirGrid CSV/CSV.gz files in timestamp order across files."""
    setup_cli_logging()
    from gridstream.services.ingestor.jobs import ReplayJob

    pace = _speed(speed, fastest)
    job = ReplayJob(path, pace, _utc(start), _utc(end), _names(regions), _names(areas))
    if not count_clean:
        _run(job, as_json)
        return
    from gridstream.config import load_settings
    from gridstream.services.ingestor.pipeline import as_dict, count_replay

    with _bar(None, "replay+clean") as update:
        result = count_replay(
            load_settings(),
            path,
            regions=job.regions,
            areas=job.areas,
            speed=pace,
            progress=lambda sent, ts: update(info=f"{sent:,} raw readings"),
        )
    if as_json:
        emit_json(as_dict(result))
        return
    for key, value in as_dict(result).items():
        typer.echo(f"{key}: {value}")


@ingest_app.command("simulate")
@friendly_errors
def simulate(
    seed: Annotated[int, typer.Option(help="Random seed (same seed and span: same data).")] = 0,
    start: FromOpt = None,
    end: ToOpt = None,
    speed: SpeedOpt = None,
    fastest: MaxOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Synthetic all-island demand, wind and CO2 calibrated on real data (no internet needed).

    Without --to it catches up to now and then follows the wall clock until Ctrl-C.
    """
    setup_cli_logging()
    from gridstream.services.ingestor.jobs import SimulateJob

    first = _utc(start) or datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(
        days=1
    )
    last = _utc(end)
    job = SimulateJob(seed, first, last, _speed(speed, fastest))
    _run(job, as_json, span=(first, last) if last else None)


def register(app: typer.Typer) -> None:
    app.add_typer(ingest_app, name="ingest")
