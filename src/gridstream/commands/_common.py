"""Helpers shared by CLI commands: logging to stderr, JSON on stdout, error exits."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from gridstream.errors import GridstreamError

P = ParamSpec("P")
R = TypeVar("R")


def setup_cli_logging(verbose: bool = False) -> None:
    """Human-readable logs on stderr (stdout is kept for results and --json)."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def emit_json(payload: Any) -> None:
    """Print one JSON document on stdout, nothing else."""
    sys.stdout.write(json.dumps(payload, default=str) + "\n")
    sys.stdout.flush()


def friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a GridstreamError into a one-line message on stderr and exit code 1."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except GridstreamError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None

    return wrapper


# Options shared by the replay backtests (storage, rebalance).
DataOption = Annotated[Path, typer.Option("--data", help="folder of recorded EirGrid files")]
FromDayOption = Annotated[
    datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="first day (Irish local)")
]
ToDayOption = Annotated[
    datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="last day, inclusive")
]
FleetOption = Annotated[Path | None, typer.Option(help="fleet file (.toml/.json/.yaml)")]
JsonDocOption = Annotated[bool, typer.Option("--json", help="print one JSON document")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v")]
