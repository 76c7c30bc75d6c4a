"""``gridstream topics create|list``: the pipeline topics on the configured cluster."""

from __future__ import annotations

from typing import Annotated

import typer

from gridstream.commands._common import emit_json, friendly_errors, setup_cli_logging

topics_app = typer.Typer(help="Create and list the pipeline's Kafka topics.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")]


@topics_app.command("create")
@friendly_errors
def create(as_json: JsonOpt = False) -> None:
    """Create every pipeline topic that does not exist (partitions/replication from settings)."""
    setup_cli_logging()
    from gridstream.bus.admin import Admin
    from gridstream.bus.topics import topic_specs
    from gridstream.config import load_settings

    settings = load_settings()
    specs = topic_specs(settings.topics, settings.topic_partitions, settings.topic_replication)
    created = Admin(settings.kafka()).ensure_topics(specs)
    if as_json:
        emit_json({"created": created, "topics": [s.name for s in specs]})
    else:
        typer.echo(f"created {len(created)} of {len(specs)} topics: {', '.join(created) or '-'}")


@topics_app.command("list")
@friendly_errors
def list_topics(as_json: JsonOpt = False) -> None:
    """List topics and their partition counts."""
    from gridstream.bus.admin import Admin
    from gridstream.config import load_settings

    info = Admin(load_settings().kafka()).describe()
    if as_json:
        emit_json(info.topics)
        return
    for name, parts in info.topics.items():
        typer.echo(f"{name}\t{parts}")


def register(app: typer.Typer) -> None:
    app.add_typer(topics_app, name="topics")
