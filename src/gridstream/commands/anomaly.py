"""``gridstream anomaly``: the streaming detector and alert rules on the grid's own incidents."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gridstream.commands._common import emit_json, friendly_errors


def register(app: typer.Typer) -> None:
    anomaly = typer.Typer(help="Anomaly detection on recorded EirGrid data.")
    app.add_typer(anomaly, name="anomaly")

    @anomaly.command("incidents")
    @friendly_errors
    def incidents(
        data: Annotated[
            Path, typer.Option(help="Recorded EirGrid files (folder with ALL/, ROI/, NI/).")
        ] = Path("../shared/data/eirgrid/smartgriddashboard"),
        plot: Annotated[
            Path | None, typer.Option(help="Write one PNG per incident into this folder.")
        ] = None,
        false_alarms_from: Annotated[
            str, typer.Option(help="Start (UTC date) of the false-alarm count.")
        ] = "2019-01-01",
        false_alarms_to: Annotated[
            str, typer.Option(help="End (UTC date, exclusive) of the false-alarm count.")
        ] = "2023-01-01",
        json_out: Annotated[bool, typer.Option("--json", help="Print only JSON.")] = False,
    ) -> None:
        """Replay the recorded incidents through the detector and the alert rules: was each
        flagged, how long after its start, by which evidence; and the false-alarm rate."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from gridstream.commands._incidents import run_all

        bar = Progress(
            TextColumn("incidents"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[what]}"),
            console=Console(stderr=True),
        )
        task = bar.add_task("incidents", total=None, what="")
        with bar:
            result = run_all(
                data,
                plot,
                false_alarms_from,
                false_alarms_to,
                lambda done, total, what: bar.update(task, completed=done, total=total, what=what),
            )
        if json_out:
            emit_json(result)
            return
        for v in result["incidents"]:
            delay = "-" if v["delay_minutes"] is None else f"{v['delay_minutes']:.0f} min"
            mark = "ok " if v["passed"] else "MISS"
            typer.echo(
                f"{mark} {v['incident']:<36} flagged={v['flagged']!s:<5} after {delay:<9} "
                f"{v['evidence']}"
            )
        fa = result["false_alarms"]
        typer.echo(
            f"false alarms {fa['from']}..{fa['to']}: {fa['per_series_per_month']} per "
            f"series per month ({fa['firings_outside_incidents']} firings, target <= 1)"
        )
