"""``gridstream up|down|status|trace``: the whole pipeline on one machine."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gridstream.commands._common import emit_json, friendly_errors, setup_cli_logging

if TYPE_CHECKING:
    from gridstream.stack.files import StackPlan
    from gridstream.stack.probe import ServiceProbe

JsonOpt = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")]


@friendly_errors
def up(
    source: Annotated[
        str,
        typer.Option(
            help="auto (live API, else ../shared/data/eirgrid replay, else simulator), "
            "live, simulate, replay or replay:PATH."
        ),
    ] = "auto",
    speed: Annotated[
        str | None,
        typer.Option(
            help="Seconds of grid time per second, e.g. 60, or 'max' (as fast as possible). "
            "Replays default to 300: a quarter-hour every 3 s, a day in under 5 minutes."
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Replay from this date (UTC), e.g. 2022-12-03 [default: 14 days before the "
            "recording ends; with --speed max, its first file].",
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Keep the previous run's topics and history: a replay goes on where it "
            "stopped [default: a replay starts afresh on the local broker].",
        ),
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for every /ready.")] = 240.0,
    port_offset: Annotated[
        int, typer.Option(help="Add this to every service port (run a second stack).")
    ] = 0,
) -> None:
    """Start Kafka (unless GRIDSTREAM_BOOTSTRAP is set), the topics, the nine services and the
    dashboard; wait until every one is ready; print where everything is.

    Offline, the default replays the latest two recorded weeks at a pace you can watch, with
    the trainer warmed on the weeks before them."""
    import logging

    setup_cli_logging()
    from gridstream.config import load_settings
    from gridstream.services.ingestor.settings import IngestSettings
    from gridstream.stack.control import bring_up, start_afresh, wait_ready
    from gridstream.stack.files import StackFiles
    from gridstream.stack.source import (
        choose_pace,
        choose_source,
        default_replay_dir,
        parse_speed,
        probe_live,
        recording_end,
    )

    settings = load_settings()
    if speed is not None:
        parse_speed(speed)
    replay_dir = default_replay_dir(settings.data_dir)
    choice = choose_source(source, replay_dir, lambda: probe_live(IngestSettings().api_base_url))
    typer.echo(f"data source: {choice.describe()}", err=True)
    path = choice.path
    pace = choose_pace(choice, speed, start, lambda: recording_end(path or replay_dir))
    if choice.kind == "replay":
        typer.echo(f"replay: {pace.describe()}", err=True)
        if not resume:
            for what in start_afresh(settings):
                typer.echo(f"starting afresh: cleared {what}", err=True)
        if pace.start is not None and path is not None:
            _warm_trainer(settings, path, pace.start)
    plan = bring_up(settings, choice, pace, port_offset)
    files = StackFiles(settings.state_dir)
    typer.echo(f"Kafka at {plan.bootstrap}; starting {len(plan.services)} services…", err=True)

    logging.getLogger("httpx").setLevel(logging.WARNING)
    shown: list[int] = []

    def progress(probes: dict[str, ServiceProbe]) -> None:
        ready = sum(p.ready for p in probes.values())
        if not shown or shown[-1] != ready:
            typer.echo(f"  ready: {ready}/{len(probes)}", err=True)
            shown.append(ready)

    probes = wait_ready(plan, files, timeout, progress)
    typer.echo(_screen(plan, probes, files))
    if not all(p.ready for p in probes.values()):
        raise typer.Exit(1)


def _warm_trainer(settings: Any, replay_dir: Path, start: Any) -> None:
    """Train the trainer's targets on the recorded weeks before ``start``, with a bar."""
    import logging
    import time

    from rich.console import Console
    from rich.progress import Progress

    from gridstream.stack.warmup import warm_trainer

    began = time.monotonic()
    # the bar says which series is training; the trainer's own log lines would break it up
    logging.getLogger("gridstream.core.forecasting").setLevel(logging.WARNING)
    with Progress(transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task(f"warming the trainer on the weeks before {start:%d %b %Y}", total=1)

        def step(sid: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=f"training {sid}")

        models = warm_trainer(
            replay_dir, start, settings.state_dir / "models", settings.history_store, step
        )
    trained = sum(m.trained for m in models)
    typer.echo(
        f"trainer warm: {len(models)} models on the weeks before {start:%d %b %Y} "
        f"({trained} trained, {len(models) - trained} kept from an earlier run) "
        f"in {time.monotonic() - began:.0f} s",
        err=True,
    )


def _screen(plan: StackPlan, probes: dict[str, ServiceProbe], files: Any) -> str:
    state = files.read_state()
    dash = plan.url_of("dashboard")
    lines = [
        "",
        f"  GridStream is {'up' if all(p.ready for p in probes.values()) else 'partly up'}.",
        f"  Dashboard:  {dash}",
        f"  Kafka:      {plan.bootstrap}"
        + (" (local broker, started by up)" * plan.broker_started),
        f"  Source:     {plan.source} — {plan.source_reason}",
        f"  Token:      in {files.token_file} (for approve / silence on the dashboard)",
        "",
        f"  {'service':26} {'port':>5}  {'state':10} detail",
    ]
    for svc in plan.services:
        probe = probes.get(svc.name)
        st = state.services.get(svc.name) if state else None
        ok = probe is not None and probe.ready
        detail = (
            ""
            if ok
            else (st.last_error if st and st.last_error else (probe.detail if probe else ""))
        )
        label = "ready" if ok else ("crashing" if st and st.restarts else "not ready")
        lines.append(f"  {svc.name:26} {svc.port:>5}  {label:10} {detail[:110]}")
    lines += [
        "",
        f"  Logs:       {files.logs}/<service>.log (supervisor: {files.supervisor_log})",
        "  Status:     gridstream status",
        "  Trace:      gridstream trace ALL/SYSTEM_DEMAND@<ts_ms>",
        "  Stop:       gridstream down",
    ]
    if not all(p.ready for p in probes.values()):
        lines.append("  Services that are not ready keep being restarted with backoff.")
    return "\n".join(lines)


@friendly_errors
def down() -> None:
    """Stop every service, the supervisor, and the local broker if `up` started it."""
    setup_cli_logging()
    from gridstream.config import load_settings
    from gridstream.stack.control import bring_down

    stopped = bring_down(load_settings())
    typer.echo("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@friendly_errors
def status(as_json: JsonOpt = False) -> None:
    """Each service's process state, readiness, consumer lag and throughput."""
    from gridstream.config import load_settings
    from gridstream.stack.control import status as stack_status

    info = stack_status(load_settings())
    if as_json:
        emit_json(info)
        if not info["running"]:
            raise typer.Exit(3)
        return
    if not info["running"]:
        typer.echo(
            f"the stack is not running (state in {info['state_dir']}); start it: gridstream up"
        )
        raise typer.Exit(3)
    typer.echo(
        f"Kafka {info['bootstrap']} · source {info['source']} · "
        f"supervisor pid {info['supervisor_pid']}"
    )
    typer.echo(
        f"{'service':26} {'port':>5} {'process':10} {'ready':5} {'lag':>8} {'rec/s':>8} "
        f"{'DLQ':>6} restarts"
    )
    for row in info["services"]:  # type: ignore[attr-defined]
        lag = "-" if row["lag"] is None else f"{row['lag']:.0f}"
        rate = "-" if row["records_per_s"] is None else f"{row['records_per_s']:.1f}"
        typer.echo(
            f"{row['name']:26} {row['port']:>5} {row['process']:10} "
            f"{'yes' if row['ready'] else 'no':5} "
            f"{lag:>8} {rate:>8} {row['dead_letters']:>6.0f} {row['restarts']}"
        )
        if not row["ready"] and (row["last_error"] or row["detail"]):
            typer.echo(f"{'':33}↳ {(row['last_error'] or row['detail'])[:120]}")


@friendly_errors
def trace(
    record_id: Annotated[str, typer.Argument(help="A reading id: '{region}/{field}@{ts_ms}'.")],
    as_json: JsonOpt = False,
) -> None:
    """Show what one reading fed: clean reading, features, forecast, anomaly, alert, schedule,
    action."""
    from gridstream.bus.reader import read_topic
    from gridstream.config import load_settings
    from gridstream.schemas import (
        alert_pb2,
        anomaly_pb2,
        features_pb2,
        forecast_pb2,
        readings_pb2,
        rebalance_pb2,
        storage_pb2,
    )
    from gridstream.stack.trace import build_trace, parse_record_id

    parse_record_id(record_id)
    settings = load_settings()
    kafka, t = settings.kafka("gridstream-trace"), settings.topics

    def values(topic: str, mtype: Any) -> list[Any]:
        return [r.value for r in read_topic(kafka, topic, mtype, timeout_s=120)]

    result = build_trace(
        record_id,
        values(t.raw, readings_pb2.RawReading),
        values(t.preprocessed, readings_pb2.CleanReading),
        values(t.ml_ready, features_pb2.FeatureVector),
        values(t.forecasts, forecast_pb2.Forecast),
        values(t.anomalies, anomaly_pb2.Anomaly),
        values(t.alerts, alert_pb2.Alert),
        values(t.storage, storage_pb2.StorageSchedule),
        values(t.rebalance, rebalance_pb2.RebalanceAction),
    ).as_dict()
    if as_json:
        emit_json(result)
        return
    typer.echo(f"reading {record_id}")
    for step, items in result["steps"].items():
        mark = "✓" if items else "·"
        typer.echo(f"  {mark} {step:10} {len(items)} record(s)")
        for item in items[:5]:
            summary = ", ".join(f"{k}={v}" for k, v in list(item.items())[:5])
            typer.echo(f"      {summary[:150]}")


@friendly_errors
def supervise(
    state_dir: Annotated[Path, typer.Option(help="Stack state directory.")],
) -> None:
    """Internal: the supervisor process started by `gridstream up`."""
    import logging

    from gridstream.stack.control import run_supervisor

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    run_supervisor(state_dir)


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    app.command("down")(down)
    app.command("status")(status)
    app.command("trace")(trace)
    app.command("_supervise", hidden=True)(supervise)
