"""``gridstream backtest`` and ``gridstream train``: quantile forecasting on recorded data."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gridstream.commands._common import emit_json, friendly_errors, setup_cli_logging

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from gridstream.core.forecasting.train_config import TrainConfig

DATA_AREAS = ["demandactual", "windactual", "co2intensity"]


def _load(data: Path, regions: list[str], first_year: int, last_year: int) -> pd.DataFrame:
    from gridstream.errors import GridstreamError
    from gridstream.sources.recorded import list_files, read_frame

    files = list_files(
        data, regions=regions, areas=DATA_AREAS, years=range(first_year, last_year + 1)
    )
    if not files:
        raise GridstreamError(f"no recorded demand/wind/co2 files under {data} for those years")
    return read_frame(files)


def _config(samples: int, rounds: int, threads: int) -> TrainConfig:
    from gridstream.core.forecasting.train_config import TrainConfig

    return TrainConfig(samples=samples, rounds=rounds, num_threads=threads)


Regions = Annotated[str, typer.Option(help="Comma-separated regions (ALL, ROI, NI).")]
Series = Annotated[str, typer.Option(help="Comma-separated series: demand, wind, co2.")]
Samples = Annotated[int, typer.Option(help="Training (origin, lead) pairs per series.")]
Rounds = Annotated[int, typer.Option(help="Boosting rounds per quantile model.")]
Threads = Annotated[int, typer.Option(help="LightGBM threads.")]


def register(app: typer.Typer) -> None:
    @app.command()
    @friendly_errors
    def backtest(
        data: Annotated[Path, typer.Option(help="Recorded files (layout of shared/data/eirgrid).")],
        train_from: Annotated[str, typer.Option(help="First training day (UTC), e.g. 2019-01-01.")],
        train_until: Annotated[str, typer.Option(help="Last training day, inclusive.")],
        test_from: Annotated[str, typer.Option(help="First test day (UTC).")],
        test_until: Annotated[str, typer.Option(help="Last test day, inclusive.")],
        regions: Regions = "ALL,ROI,NI",
        series: Series = "demand,wind,co2",
        plot: Annotated[Path, typer.Option(help="PNG of a sample week.")] = Path(
            "backtest_week.png"
        ),
        samples: Samples = 200_000,
        rounds: Rounds = 160,
        threads: Threads = 2,
        recalibrate_days: Annotated[
            int,
            typer.Option(
                min=0,
                help="Recalibrate the P10-P90 bands on the trailing window every N days of "
                "the test period, as the trainer's daily runs do (0: never).",
            ),
        ] = 30,
        json_out: Annotated[
            bool, typer.Option("--json", help="Print only the JSON results.")
        ] = False,
        verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    ) -> None:
        """Train on one period and score 15 min / 1 h / 4 h / 24 h forecasts on another.

        Every 15-minute slot of the test period is a forecast origin that sees only earlier
        readings; the baselines (persistence, same time yesterday, same time last week) are
        scored on the same origins. Prints MAE, MAPE, pinball loss and P10–P90 coverage.
        """
        import pandas as pd
        from rich.progress import Progress

        from gridstream.commands._forecast_plot import plot_sample_week
        from gridstream.core.forecasting.backtest import run_backtest

        setup_cli_logging(verbose)
        region_list, series_list = regions.split(","), series.split(",")
        t_from, t_until = pd.Timestamp(train_from, tz="UTC"), pd.Timestamp(train_until, tz="UTC")
        s_from, s_until = pd.Timestamp(test_from, tz="UTC"), pd.Timestamp(test_until, tz="UTC")
        day = pd.Timedelta(days=1)
        started = time.perf_counter()
        history = _load(data, region_list, (t_from - 8 * day).year, s_until.year)
        load_s = time.perf_counter() - started
        with Progress(transient=True, console=_stderr()) as bar:
            task = bar.add_task("backtest", total=len(region_list) * len(series_list))
            results, timing, fitted = run_backtest(
                history,
                region_list,
                series_list,
                t_from,
                t_until + day,
                s_from,
                s_until + day,
                _config(samples, rounds, threads),
                on_step=lambda _name: bar.advance(task),
                recalibrate_days=recalibrate_days,
            )
        week = s_from + pd.Timedelta(days=63)
        if week + 8 * day > s_until:
            week = s_from
        plot_sample_week(fitted, week.normalize(), plot)
        doc = {
            "results": results,
            "timing": {
                "load_s": round(load_s, 2),
                **timing,
                "total_s": round(time.perf_counter() - started, 2),
            },
            "plot": str(plot),
            "settings": {
                "samples": samples,
                "rounds": rounds,
                "threads": threads,
                "recalibrate_days": recalibrate_days,
                "load_average": os.getloadavg()[0],
            },
        }
        if json_out:
            emit_json(doc)
            return
        for row in results:
            typer.echo(
                f"{row['region']:>3} {row['series']:<6} {row['lead']:>5}  mae={row['mae']}  "
                f"mape={row['mape']}  pinball={row['pinball']}  cov={row['coverage_p10_p90']}"
            )
        typer.echo(f"plot: {plot}; timing: {doc['timing']}")

    @app.command()
    @friendly_errors
    def train(
        data: Annotated[Path, typer.Option(help="Recorded files (layout of shared/data/eirgrid).")],
        registry: Annotated[Path, typer.Option(help="Model registry directory.")] = Path(
            "var/models"
        ),
        train_from: Annotated[str, typer.Option(help="First training day (UTC).")] = "2019-01-01",
        train_until: Annotated[
            str, typer.Option(help="Last training day, inclusive.")
        ] = "2021-12-31",
        validation_days: Annotated[
            int, typer.Option(help="Latest days held out to validate.")
        ] = 28,
        regions: Regions = "ALL,ROI,NI",
        series: Series = "demand,wind,co2",
        samples: Samples = 200_000,
        rounds: Rounds = 160,
        threads: Threads = 2,
        json_out: Annotated[
            bool, typer.Option("--json", help="Print only the JSON summary.")
        ] = False,
        verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    ) -> None:
        """Train P10/P50/P90 models per region and series; promote those that beat the incumbent."""
        import pandas as pd
        from rich.progress import Progress

        from gridstream.core.forecasting.backtest import prepare
        from gridstream.core.forecasting.training import train_series
        from gridstream.store.registry import ModelRegistry

        setup_cli_logging(verbose)
        region_list, series_list = regions.split(","), series.split(",")
        t_from = pd.Timestamp(train_from, tz="UTC")
        t_until = pd.Timestamp(train_until, tz="UTC") + pd.Timedelta(days=1)
        started = time.perf_counter()
        history = _load(data, region_list, (t_from - pd.Timedelta(days=8)).year, t_until.year)
        store = ModelRegistry(registry)
        outcomes = []
        with Progress(transient=True, console=_stderr()) as bar:
            task = bar.add_task("training", total=len(region_list) * len(series_list))
            for region in region_list:
                for name in series_list:
                    prepared = prepare(history, region, name)
                    outcome = train_series(
                        prepared,
                        store,
                        t_from,
                        t_until,
                        _config(samples, rounds, threads),
                        validation_days,
                    )
                    outcomes.append(
                        {
                            "series_id": outcome.series_id,
                            "version": outcome.version,
                            "promoted": outcome.promoted,
                            "reason": outcome.reason,
                            "validation_pinball": outcome.metrics["validation_pinball"],
                        }
                    )
                    bar.advance(task)
        doc = {
            "models": outcomes,
            "seconds": round(time.perf_counter() - started, 1),
            "registry": str(registry),
        }
        if json_out:
            emit_json(doc)
        else:
            for row in outcomes:
                typer.echo(
                    f"{row['series_id']:<20} {row['version']}  promoted={row['promoted']}  "
                    f"({row['reason']})"
                )
            typer.echo(f"done in {doc['seconds']} s")


def _stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True)
