"""`gridstream storage ...`: the battery storage backtest and fleet configuration check."""

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
AREAS = ["demandactual", "windactual", "co2intensity"]
FORECAST_SERIES = ["demand", "wind", "co2"]


def _cache_tag(region: str, start: Any, end: Any) -> str:
    return f"{region}|{start.isoformat()}|{end.isoformat()}|{','.join(FORECAST_SERIES)}"


def _read_cache(path: Path, tag: str) -> Any:
    """Forecasts saved by an earlier run for the same region and period, else None."""
    import numpy as np
    import pandas as pd

    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as npz:
        if str(npz["tag"]) != tag:
            log.warning("forecast cache %s is for another region/period: recomputing", path)
            return None
        return pd.DataFrame(
            {
                "issue_time": pd.to_datetime(npz["issue_time"], unit="ns", utc=True),
                "target_time": pd.to_datetime(npz["target_time"], unit="ns", utc=True),
                "series": npz["series"].astype(str),
                "p10": npz["p10"],
                "p50": npz["p50"],
                "p90": npz["p90"],
            }
        )


def _write_cache(path: Path, tag: str, forecasts: Any) -> None:
    import numpy as np
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        np.savez(
            fh,
            tag=np.array(tag),
            issue_time=pd.DatetimeIndex(forecasts["issue_time"]).as_unit("ns").asi8,
            target_time=pd.DatetimeIndex(forecasts["target_time"]).as_unit("ns").asi8,
            series=forecasts["series"].to_numpy(dtype=str),
            p10=forecasts["p10"].to_numpy(dtype=np.float64),
            p50=forecasts["p50"].to_numpy(dtype=np.float64),
            p90=forecasts["p90"].to_numpy(dtype=np.float64),
        )


def _project_source(
    frame: Any, data: Any, region: str, start: Any, end: Any, cache: Path | None = None
) -> Any:
    """The project's own quantile forecasts for the test window, or None when absent.

    Models are trained on the readings before ``start`` only (no leakage). With ``cache``,
    the issued forecasts are saved there and reused by later runs of the same period."""
    import pandas as pd

    from gridstream.core.storage.forecast_sources import FrameForecasts

    try:
        from gridstream.core.forecasting import quantile_forecasts
    except ImportError:
        return None
    tag = _cache_tag(region, start, end)
    forecasts = _read_cache(cache, tag) if cache is not None else None
    if forecasts is None:
        log.info("computing the project's quantile forecasts (this trains models)")
        step = pd.Timedelta(minutes=15)
        forecasts = quantile_forecasts(
            frame,
            region,
            FORECAST_SERIES,
            train_until=start - step,
            test_from=start - step,
            test_until=end,
        )
        if cache is not None:
            _write_cache(cache, tag, forecasts)
    else:
        log.info("using cached forecasts from %s", cache)
    return FrameForecasts(forecasts, data, name="project_forecast", model_version="project")


def _backtest(
    data_dir: Path,
    start_day: datetime,
    end_day: datetime,
    region: str,
    objective: str,
    fleet_path: Path | None,
    replan_minutes: int,
    forecast: str,
    robustness: float | None,
    cache: Path | None = None,
    throughput_penalty: float | None = None,
    terminal_quantile: float | None = None,
    nominal_terminal: bool = False,
    spread_widening: float | None = None,
    error_scales: tuple[float, ...] = (),
    feedback_tau: float | None = None,
) -> dict[str, Any]:
    import pandas as pd
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from gridstream.core.storage.backtest import run_backtest, strategy_count, tuned_planning
    from gridstream.core.storage.fleet import load_fleet_config
    from gridstream.core.storage.forecast_sources import ForecastSource, SeasonalNaive
    from gridstream.core.storage.objectives import preset
    from gridstream.core.storage.replay_data import replay_data_from_frame
    from gridstream.sources.recorded import list_files, read_frame

    preset(objective)  # validates the name
    fleet = load_fleet_config(fleet_path).for_region(region)
    start = pd.Timestamp(start_day).tz_localize("Europe/Dublin").tz_convert("UTC")
    end = (pd.Timestamp(end_day) + pd.Timedelta(days=1)).tz_localize("Europe/Dublin")
    end = end.tz_convert("UTC")
    if end <= start:
        raise ConfigError("--to must not be before --from")
    years = range(start.year - (2 if forecast != "naive" else 1), end.year + 1)
    files = list_files(data_dir, regions=[region], areas=AREAS, years=years)
    if not files:
        raise ConfigError(
            f"no recorded {region} demand/wind/CO2 files under {data_dir}; "
            "point --data at shared/data/eirgrid/smartgriddashboard"
        )
    log.info("reading %d recorded files", len(files))
    frame = read_frame(files)
    data = replay_data_from_frame(frame, region)
    a, b = data.position(start), data.position(end)
    if b - a < 96 or a < 96:
        raise ConfigError("the period needs at least one day of data and one day before it")
    source: ForecastSource | None = None
    if forecast != "naive":
        source = _project_source(frame, data, region, start, end, cache)
        if source is None and forecast == "project":
            raise ConfigError(
                "gridstream.core.forecasting.quantile_forecasts is not available; "
                "use --forecast naive"
            )
    if source is None:
        log.warning("using seasonal-naive forecasts for the forecast strategy")
        source = SeasonalNaive()
    planning = tuned_planning(source.name)
    given = {
        "robustness": robustness,
        "throughput_penalty": throughput_penalty,
        "terminal_quantile": terminal_quantile,
        "spread_widening": spread_widening,
        "feedback_tau_steps": feedback_tau,
    }
    planning.update({k: v for k, v in given.items() if v is not None})
    if nominal_terminal:
        planning["terminal_quantile"] = None
    console = Console(file=sys.stderr)
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task(
            f"storage backtest {region} {objective}",
            total=strategy_count(len(error_scales)) * (b - a),
        )
        return run_backtest(
            data,
            fleet,
            objective,
            a,
            b,
            source,
            replan_steps=max(1, replan_minutes // 15),
            progress=lambda n: bar.advance(task, n),
            error_scales=error_scales,
            **planning,
        )


#: the forecast-skill sweep's error scales are kept within this range
MAX_ERROR_SCALE = 2.0


def parse_error_scales(text: str | None) -> tuple[float, ...]:
    """``"0.75,0.5"`` -> (0.75, 0.5); each within 0..MAX_ERROR_SCALE, else a ConfigError."""
    if not text:
        return ()
    scales = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise ConfigError(
                f"--error-scales: {part.strip()!r} is not a number (e.g. 0.75,0.5,0.25)"
            ) from None
        if not 0.0 <= value <= MAX_ERROR_SCALE:
            raise ConfigError(f"--error-scales: {value:g} is outside 0..{MAX_ERROR_SCALE:g}")
        scales.append(value)
    return tuple(scales)


def _summary(report: dict[str, Any]) -> str:
    lines = [
        f"storage backtest {report['region']} {report['objective']} "
        f"{report['from']} .. {report['to']} (forecasts: {report['forecast_source']})"
    ]
    for name, b in report["benefit"].items():
        lines.append(
            f"  {name:22s} CO2 avoided {b['co2_avoided_t']:>10.1f} t   "
            f"daily peak removed {b['peak_removed_mw_daily_mean']:>7.1f} MW   "
            f"cycles {b['full_cycles']:>6.1f}   violations {b['violations']}"
        )
    lines.append(f"  ratio to perfect foresight: {report['ratio_to_perfect_foresight']}")
    primary = report["primary_metric"]
    for point in report.get("forecast_skill", []):
        lines.append(
            f"  forecast errors x{point['error_scale']:<5g} {primary} "
            f"{point['benefit'][primary]:>10.1f}   ratio to perfect foresight "
            f"{point['ratio_to_perfect_foresight'][primary]}"
        )
    lines.append(f"  solve ms p50 {report['solve_ms_p50']}  p99 {report['solve_ms_p99']}")
    lines.append(f"  targets: {report['targets']}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    storage = typer.Typer(
        help="Battery storage optimisation: backtests and fleet configuration.",
        no_args_is_help=True,
    )
    app.add_typer(storage, name="storage")

    @storage.command("backtest")
    @friendly_errors
    def backtest(
        data: DataOption,
        from_: FromDayOption,
        to: ToDayOption,
        region: Annotated[str, typer.Option(help="ALL, ROI or NI")] = "ALL",
        objective: Annotated[str, typer.Option(help="co2, peak or mixed")] = "co2",
        fleet: FleetOption = None,
        replan_minutes: Annotated[int, typer.Option(help="re-optimise every N minutes")] = 60,
        forecast: Annotated[
            str, typer.Option(help="auto (project forecasts if available), project, or naive")
        ] = "auto",
        robustness: Annotated[
            float | None,
            typer.Option(
                min=0.0,
                max=1.0,
                help="forecast MPC: price charging this far from P50 toward P90 and "
                "discharging toward P10 (0: P50 only, 1: the worst quantile); "
                "default: tuned on 2021 for the forecast source",
            ),
        ] = None,
        throughput_penalty: Annotated[
            float | None,
            typer.Option(
                min=0.0,
                help="forecast MPC: planning hurdle in EUR per MWh charged or discharged "
                "(CO2 at 100 EUR/t: 10 EUR/MWh is 100 gCO2/kWh); "
                "default: tuned on 2021 per forecast source",
            ),
        ] = None,
        terminal_quantile: Annotated[
            float | None,
            typer.Option(
                min=0.0,
                max=1.0,
                help="forecast MPC: value energy left at the horizon end at this quantile "
                "of the forecast CO2 intensity; default: tuned on 2021 per forecast source",
            ),
        ] = None,
        spread_widening: Annotated[
            float | None,
            typer.Option(
                min=0.0,
                max=1.0,
                help="forecast MPC: plan CO2 on P50 moved this far toward P90 above the "
                "horizon median and toward P10 below it; "
                "default: tuned on 2021 per forecast source",
            ),
        ] = None,
        no_terminal_value: Annotated[
            bool,
            typer.Option(
                "--no-terminal-value", help="forecast MPC: no value beyond the terminal SoC floor"
            ),
        ] = False,
        forecast_cache: Annotated[
            Path | None,
            typer.Option(help="save/reuse the project's forecasts in this .npz file"),
        ] = None,
        feedback_tau: Annotated[
            float | None,
            typer.Option(
                min=0.0,
                help="forecast MPC: shift each forecast by its error on the last known step, "
                "fading over this many 15-minute steps (0: plan on the forecasts as issued, "
                "as the storage service does); default: tuned per forecast source",
            ),
        ] = None,
        error_scales: Annotated[
            str | None,
            typer.Option(
                help="forecast-skill sweep, e.g. 0.75,0.5,0.25: replay the forecast MPC again "
                "with the forecasts' errors against the actuals scaled by each factor "
                "(0 = perfect foresight, 1 = the forecasts as they are) to show what better "
                "forecasts would be worth; reported under forecast_skill",
            ),
        ] = None,
        plot: Annotated[
            Path | None,
            typer.Option(
                help="write a PNG here: benefit per month and strategy, and the "
                "forecast-skill curve when --error-scales is given",
            ),
        ] = None,
        json_out: JsonDocOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """Replay recorded data through the storage MPC with the project's forecasts, perfect
        foresight and a rule baseline; report CO2 avoided, peak removed, ratios, solve times."""
        setup_cli_logging(verbose)
        if forecast not in ("auto", "project", "naive"):
            raise ConfigError("--forecast must be auto, project or naive")
        report = _backtest(
            data,
            from_,
            to,
            region,
            objective,
            fleet,
            replan_minutes,
            forecast,
            robustness,
            forecast_cache,
            throughput_penalty,
            terminal_quantile,
            no_terminal_value,
            spread_widening,
            parse_error_scales(error_scales),
            feedback_tau,
        )
        if plot is not None:
            from gridstream.core.storage.render import render_backtest_png

            plot.parent.mkdir(parents=True, exist_ok=True)
            plot.write_bytes(render_backtest_png(report))
            log.info("wrote the backtest plot to %s", plot)
        if json_out:
            emit_json(report)
        else:
            typer.echo(_summary(report))

    @storage.command("check-fleet")
    @friendly_errors
    def check_fleet(
        path: Annotated[Path | None, typer.Argument(help="fleet file; default: packaged")] = None,
    ) -> None:
        """Validate a battery fleet configuration file and print it as JSON."""
        from gridstream.core.storage.fleet import load_fleet_config

        config = load_fleet_config(path)
        emit_json({k: v.model_dump() for k, v in config.fleets.items()})
