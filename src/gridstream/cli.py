"""The ``gridstream`` command: the entry point only; each command group lives in ``commands/``.

Every module in ``COMMAND_MODULES`` exposes ``register(app)``; heavy libraries are imported
inside the commands, so ``gridstream --help`` stays fast.
"""

from __future__ import annotations

import importlib

import typer

COMMAND_MODULES = (
    "broker",
    "topics",
    "services",
    "ingest",
    "history",
    "forecast",
    "nab",
    "anomaly",
    "storage",
    "rebalance",
    "stack",
    "verify",
    "bench",
)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="gridstream",
        help="GridStream: real-time forecasting and control for Ireland's grid, on Apache Kafka.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"gridstream.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"gridstream.commands.{name}":
                continue  # command group not part of this build
            raise
        module.register(app)
    return app


def main() -> None:
    build_app()()
