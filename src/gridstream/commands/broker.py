"""``gridstream broker fetch|start|stop|status``: the local Apache Kafka broker."""

from __future__ import annotations

from typing import Annotated

import typer

from gridstream.commands._common import emit_json, friendly_errors, setup_cli_logging

broker_app = typer.Typer(
    help="Run a local Apache Kafka (KRaft) broker for development.", no_args_is_help=True
)

PortOpt = Annotated[int | None, typer.Option(help="Client port of node 1 (default 9092).")]
NodesOpt = Annotated[int | None, typer.Option(help="Number of KRaft nodes (loopback ports).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")]


def _cluster(port: int | None = None, nodes: int | None = None, secure: bool = False):  # type: ignore[no-untyped-def]
    from gridstream.broker.cluster import LocalCluster, jvm_flags
    from gridstream.config import load_settings

    settings = load_settings()
    return LocalCluster(
        settings.broker_state_dir,
        port=port or settings.broker.port,
        nodes=nodes or settings.broker.nodes,
        version=settings.broker.version,
        heap_mb=settings.broker.heap_mb,
        jvm_options=jvm_flags(settings.broker.jvm_options),
        secure=secure,
    )


@broker_app.command("fetch")
@friendly_errors
def fetch() -> None:
    """Download Kafka and its dependencies from Maven Central into the cache (once)."""
    setup_cli_logging()
    from gridstream.broker.fetch import ensure_kafka
    from gridstream.config import load_settings

    dist = ensure_kafka(load_settings().broker.version)
    typer.echo(f"Kafka {dist.version} ready in {dist.libs}", err=True)


@broker_app.command("start")
@friendly_errors
def start(
    port: PortOpt = None,
    nodes: NodesOpt = None,
    secure: Annotated[
        bool,
        typer.Option(
            "--secure",
            help="SASL/SCRAM-SHA-512 over TLS only (generates a CA, certificates and "
            "passwords; client settings are written to <state>/broker/secure/client.env).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Format KRaft storage (first time) and start the broker; wait until it answers."""
    setup_cli_logging()
    from gridstream.config import load_settings

    if load_settings().external_cluster:
        typer.echo("GRIDSTREAM_BOOTSTRAP is set: using that cluster, no local broker", err=True)
        return
    cluster = _cluster(port, nodes, secure)
    state = cluster.start()
    if as_json:
        emit_json(cluster.status())
        return
    typer.echo(f"Kafka {state.version} running at {state.bootstrap}")
    for node in state.nodes:
        typer.echo(f"  node {node.node_id}: pid {node.pid}, log {node.log_file}")
    if state.secure:
        typer.echo(f"SASL_SSL only; client settings: set -a; . {state.client_env}; set +a")
    typer.echo("stop it with: gridstream broker stop")


@broker_app.command("stop")
@friendly_errors
def stop() -> None:
    """Stop the local broker cleanly (SIGTERM, then wait)."""
    setup_cli_logging()
    stopped = _cluster().stop()
    typer.echo("Kafka stopped" if stopped else "no local Kafka was running", err=True)


@broker_app.command("status")
@friendly_errors
def status(as_json: JsonOpt = False) -> None:
    """Show pid, listeners, version and topics of the local broker."""
    info = _cluster().status()
    if as_json:
        emit_json(info)
        return
    if not info["running"]:
        typer.echo(f"not running (state in {info['state_dir']})")
        raise typer.Exit(3)
    typer.echo(f"Kafka {info['version']} running, cluster {info['cluster_id']}")
    typer.echo(f"bootstrap: {info['bootstrap']}")
    for node in info["nodes"]:
        state = "alive" if node["alive"] else "DEAD"
        typer.echo(f"  node {node['node_id']} pid {node['pid']} {node['listener']} {state}")
    topics = info.get("topics") or {}
    typer.echo(f"topics ({len(topics)}): " + ", ".join(f"{k}[{v}]" for k, v in topics.items()))
    if "error" in info:
        typer.echo(f"warning: {info['error']}")


def register(app: typer.Typer) -> None:
    app.add_typer(broker_app, name="broker")
