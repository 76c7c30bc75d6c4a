"""``gridstream nab run``: the streaming detector over NAB-format data, scored like NAB."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from gridstream.commands._common import emit_json, friendly_errors, setup_cli_logging
from gridstream.commands._nab_corpus import DETECTOR_NAME, run_corpus
from gridstream.errors import ConfigError

log = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    nab = typer.Typer(help="Numenta Anomaly Benchmark: run and score the streaming detector.")
    app.add_typer(nab, name="nab")

    @nab.command("run")
    @friendly_errors
    def run(
        data: Annotated[Path, typer.Option(help="Folder of NAB-format CSVs (timestamp,value).")],
        out: Annotated[Path, typer.Option(help="Results folder (NAB layout).")],
        windows: Annotated[
            Path | None, typer.Option(help="NAB combined_windows.json; when given, score.")
        ] = None,
        baseline: Annotated[
            Path | None,
            typer.Option(
                help="NAB's results/null folder: normalise with its null totals like NAB's "
                "own scorer (default: results/null beside the labels folder, if present)."
            ),
        ] = None,
        cv: Annotated[
            int | None,
            typer.Option(
                "--cv",
                help="K-fold cross-validation (6 is the project's protocol): choose the "
                "parameters on K-1 folds, score the pooled held-out detections; needs --windows.",
            ),
        ] = None,
        json_out: Annotated[
            bool, typer.Option("--json", help="Print the summary as JSON.")
        ] = False,
        verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    ) -> None:
        """Run the detector over every CSV under DATA, write OUT/gridstream/..., score it.

        With --cv K the headline is the out-of-fold score (parameters chosen without the
        scored files), with the in-sample score beside it.
        """
        setup_cli_logging(verbose)
        if not data.is_dir():
            raise ConfigError(f"--data {data} is not a folder")
        if windows is not None and not windows.is_file():
            raise ConfigError(f"--windows {windows} does not exist")
        if cv is not None:
            if windows is None:
                raise ConfigError("--cv needs --windows (the labels to score folds with)")
            _run_cv(data, out, windows, baseline, cv, json_out)
            return
        result = run_corpus(data, out, windows, baseline)
        if json_out:
            emit_json(result)
            return
        typer.echo(
            f"{result['files']} files in {result['detect_seconds']} s -> {result['results_dir']}"
        )
        for profile, entry in result.get("scores", {}).items():
            typer.echo(f"{profile:20s} {json.dumps(entry)}")


def _run_cv(
    data: Path, out: Path, windows: Path, baseline: Path | None, k: int, json_out: bool
) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from gridstream.commands._nab_cv import run_cv
    from gridstream.core.anomaly.presets import candidate_grid

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[what]}"),
        console=Console(stderr=True),
    )
    task = progress.add_task(f"--cv {k}", total=None, what="")
    with progress:
        result = run_cv(
            data,
            windows,
            baseline,
            k,
            candidate_grid(),
            lambda done, total, what: progress.update(task, completed=done, total=total, what=what),
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{DETECTOR_NAME}_cv{k}.json").write_text(json.dumps(result, indent=2))
    if json_out:
        emit_json(result)
        return
    typer.echo(f"{result['protocol']} ({result['normalisation']})")
    typer.echo(f"{'profile':20s} {'out-of-fold':>12s} {'in-sample':>10s}")
    for profile, entry in result["out_of_fold"].items():
        inside = result["in_sample"][profile]
        typer.echo(
            f"{profile:20s} {entry['normalized']:12.2f} {inside['normalized']:10.2f}"
            f"  (in-sample choice: {inside['candidate']})"
        )
