"""`gridstream rebalance ...`: replay evaluation of the rebalancing policy."""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from gridstream.commands._common import (
    DataOption,
    FleetOption,
    FromDayOption,
    JsonDocOption,
    ToDayOption,
    VerboseOption,
    emit_json,
    friendly_errors,
    setup_cli_logging,
)
from gridstream.errors import ConfigError

log = logging.getLogger(__name__)
AREAS = ["demandactual", "windactual", "co2intensity", "SnspALL"]
WARMUP_DAYS = 8  # the naive forecasts' error quantiles look back one week


def _backtest(
    data_dir: Path,
    start_day: datetime,
    end_day: datetime,
    region: str,
    fleet_path: Path | None,
    snsp_limit: float,
    dr_threshold: float,
) -> dict[str, Any]:
    import pandas as pd
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from gridstream.core.rebalance.backtest import run_rebalance_backtest
    from gridstream.core.rebalance.policy import PolicyConfig, RebalancePolicy
    from gridstream.core.storage.fleet import load_fleet_config
    from gridstream.core.storage.replay_data import replay_data_from_frame
    from gridstream.sources.recorded import list_files, read_frame

    fleet = load_fleet_config(fleet_path).for_region(region)
    start = pd.Timestamp(start_day).tz_localize("Europe/Dublin").tz_convert("UTC")
    end = (pd.Timestamp(end_day) + pd.Timedelta(days=1)).tz_localize("Europe/Dublin")
    end = end.tz_convert("UTC")
    if end <= start:
        raise ConfigError("--to must not be before --from")
    first = start - pd.Timedelta(days=WARMUP_DAYS)
    files = list_files(
        data_dir, regions=[region], areas=AREAS, years=range(first.year, end.year + 1)
    )
    if not files:
        raise ConfigError(
            f"no recorded {region} demand/wind/CO2/SNSP files under {data_dir}; "
            "point --data at shared/data/eirgrid/smartgriddashboard"
        )
    log.info("reading %d recorded files", len(files))
    frame = read_frame(files)
    frame = frame[(frame["ts"] >= first) & (frame["ts"] < end + pd.Timedelta(days=1))]
    data = replay_data_from_frame(frame, region)
    a, b = data.position(start), data.position(end)
    if a < WARMUP_DAYS * 96 or b - a < 96:
        raise ConfigError(
            f"the period needs at least one day of data and {WARMUP_DAYS} days before it"
        )
    policy = RebalancePolicy(
        PolicyConfig(snsp_limit=snsp_limit, demand_response_threshold_mw=dr_threshold)
    )
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=Console(file=sys.stderr),
    ) as bar:
        task = bar.add_task(f"rebalance backtest {region}", total=2 * (b - a))
        return run_rebalance_backtest(
            data, fleet, a, b, policy, progress=lambda n: bar.advance(task, n)
        )


def _summary(report: dict[str, Any]) -> str:
    lines = [f"rebalance backtest {report['region']} {report['from']} .. {report['to']}"]
    for key in report["do_nothing"]:
        lines.append(
            f"  {key:24s} do nothing {report['do_nothing'][key]:>12.1f}   "
            f"with actions {report['with_actions'][key]:>12.1f}   "
            f"delta {report['delta'][key]:>+10.1f}"
        )
    lines.append(f"  actions: {report['actions_by_kind']}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    rebalance = typer.Typer(help="Rebalancing policy: replay evaluation.", no_args_is_help=True)
    app.add_typer(rebalance, name="rebalance")

    @rebalance.command("backtest")
    @friendly_errors
    def backtest(
        data: DataOption,
        from_: FromDayOption,
        to: ToDayOption,
        region: Annotated[str, typer.Option(help="ALL (SNSP is recorded all-island)")] = "ALL",
        fleet: FleetOption = None,
        snsp_limit: Annotated[float, typer.Option(help="operational SNSP limit (fraction)")] = 0.75,
        dr_threshold: Annotated[
            float, typer.Option(help="forecast demand peak (MW) that triggers demand response")
        ] = 6500.0,
        json_out: JsonDocOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """Replay recorded data through the rebalancing policy (automatic mode, seasonal-naive
        forecasts, storage MPC schedule) and report peak net demand, hours above the SNSP limit
        and CO2 with the actions against doing nothing, and the actions taken by kind."""
        setup_cli_logging(verbose)
        report = _backtest(data, from_, to, region, fleet, snsp_limit, dr_threshold)
        if json_out:
            emit_json(report)
        else:
            typer.echo(_summary(report))
