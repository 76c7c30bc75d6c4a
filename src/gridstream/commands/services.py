"""``gridstream service NAME``: run one service process (what containers run)."""

from __future__ import annotations

from typing import Annotated

import typer

from gridstream.commands._common import friendly_errors


@friendly_errors
def service(
    name: Annotated[str, typer.Argument(help="Service name, e.g. smart-preprocessor.")],
    port: Annotated[
        int | None, typer.Option(help="HTTP port (default: the service's own).")
    ] = None,
    instance: Annotated[
        str | None, typer.Option(help="Instance id within the consumer group.")
    ] = None,
) -> None:
    """Run one GridStream service: its Kafka loop and its HTTP API (/health, /ready, /metrics)."""
    from gridstream.config import load_settings
    from gridstream.services.host import serve
    from gridstream.services.registry import build_service_process

    overrides: dict[str, object] = {}
    if instance is not None:
        overrides["instance_id"] = instance
    settings = load_settings(**overrides)
    parts = build_service_process(name, settings)
    code = serve(parts, settings.http_host, port or settings.port_of(name))
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("service")(service)
