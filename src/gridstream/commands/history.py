"""``gridstream history``: the DuckDB history store (bulk import of recorded files)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gridstream.commands._common import emit_json, friendly_errors, setup_cli_logging

if TYPE_CHECKING:
    from rich.console import Console


def register(app: typer.Typer) -> None:
    history = typer.Typer(
        help="The history store the trainer learns from (embedded DuckDB).", no_args_is_help=True
    )

    @history.command("import")
    @friendly_errors
    def import_(
        path: Annotated[
            Path,
            typer.Argument(
                help="A recorded file or a directory tree of them "
                "(the layout of shared/data/eirgrid)."
            ),
        ],
        store: Annotated[
            Path | None,
            typer.Option(
                help="DuckDB file to write [default: the trainer's store, "
                "$GRIDSTREAM_STATE_DIR/history/history.duckdb]."
            ),
        ] = None,
        regions: Annotated[
            str | None, typer.Option(help="Comma-separated regions, e.g. ALL,ROI.")
        ] = None,
        years: Annotated[
            str | None, typer.Option(help="Comma-separated years, e.g. 2021,2022.")
        ] = None,
        json_out: Annotated[
            bool, typer.Option("--json", help="Print a JSON summary only.")
        ] = False,
        verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    ) -> None:
        """Bulk-load recorded EirGrid files into the history store (upsert by series and time)."""
        from rich.progress import Progress

        from gridstream.errors import GridstreamError
        from gridstream.sources.recorded import list_files, read_frame
        from gridstream.store.history import HistoryStore

        setup_cli_logging(verbose)
        if store is None:
            from gridstream.config import Settings

            store = Settings().history_store
        files = list_files(
            path,
            regions=regions.split(",") if regions else None,
            years=[int(y) for y in years.split(",")] if years else None,
        )
        if not files:
            raise GridstreamError(
                f"no recorded files under {path}: point PATH at shared/data/eirgrid"
            )
        written = 0
        with HistoryStore(store) as db, Progress(transient=True, console=_stderr()) as bar:
            task = bar.add_task("importing", total=len(files))
            for file in files:
                written += db.upsert_frame(read_frame([file]))
                bar.advance(task)
            total = db.count()
            series = db.series()
        summary = {
            "files": len(files),
            "rows_written": written,
            "rows_in_store": total,
            "series": series,
            "store": str(store),
        }
        if json_out:
            emit_json(summary)
        else:
            typer.echo(
                f"imported {written} readings from {len(files)} files into {store} "
                f"({total} readings, {len(series)} series)"
            )

    app.add_typer(history, name="history")


def _stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True)
