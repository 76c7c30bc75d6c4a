"""docker-compose.yml and the Dockerfile checked against the code (no Docker engine needed)."""

from __future__ import annotations

import re
from typing import Any

from conftest import REPO
from deploy_rules import SERVICES, service_command, unknown_settings
from typer.testing import CliRunner

from gridstream.config import SERVICE_PORTS


def _gridstream_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Compose services that run the GridStream image (everything but the broker)."""
    return {
        name: svc
        for name, svc in compose["services"].items()
        if list(svc.get("command", []))[:1] == ["gridstream"]
    }


def _environment(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def test_every_service_runs_its_command_on_its_default_port(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert sorted(set(services) & set(SERVICES)) == SERVICES, "a service is missing from compose"
    for name in SERVICES:
        assert services[name]["command"] == service_command(name)
        port = SERVICE_PORTS[name]
        assert services[name]["ports"] == [f"{port}:{port}"], f"{name} must publish {port}:{port}"


def test_every_gridstream_container_uses_the_same_image(compose: dict[str, Any]) -> None:
    containers = _gridstream_services(compose)
    assert len(containers) >= len(SERVICES) + 1  # the services and the topic-creation step
    images = {svc.get("image") for svc in containers.values()}
    builds = {str(svc.get("build")) for svc in containers.values()}
    assert len(images) == 1 and None not in images, images
    assert len(builds) == 1, builds


def test_every_environment_variable_is_a_real_setting(compose: dict[str, Any]) -> None:
    for name, svc in _gridstream_services(compose).items():
        assert unknown_settings(_environment(svc)) == [], f"{name} sets variables nothing reads"
    dockerfile_env = re.findall(r"\b(GRIDSTREAM_[A-Z_]+)=", (REPO / "Dockerfile").read_text())
    assert dockerfile_env, "the Dockerfile should set the container defaults"
    assert unknown_settings(dockerfile_env) == []


def test_services_listen_on_all_interfaces_and_reach_the_internal_listener(
    compose: dict[str, Any],
) -> None:
    kafka = compose["services"]["kafka"]["environment"]
    advertised = dict(
        item.split("://", 1) for item in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")
    )
    for name, svc in _gridstream_services(compose).items():
        env = _environment(svc)
        assert env["GRIDSTREAM_BOOTSTRAP"] == advertised["INTERNAL"], name
        assert env.get("GRIDSTREAM_HTTP_HOST") == "0.0.0.0", f"{name} must not bind to loopback"


def test_kafka_is_kraft_and_reachable_from_host_and_network(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    env = kafka["environment"]
    assert kafka["image"].startswith("apache/kafka:")
    assert not any("zookeeper" in str(v).lower() for v in [*env, *env.values()])
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    listeners = dict(item.split("://", 1) for item in env["KAFKA_LISTENERS"].split(","))
    advertised = dict(item.split("://", 1) for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    published = {p.split(":")[0]: p.split(":")[1] for p in kafka["ports"]}
    host_name, host_port = advertised["EXTERNAL"].rsplit(":", 1)
    assert host_name == "localhost" and published[host_port] == listeners["EXTERNAL"].lstrip(":")
    internal_host, internal_port = advertised["INTERNAL"].rsplit(":", 1)
    assert internal_host == kafka["hostname"] == "kafka"
    assert listeners["INTERNAL"] == f":{internal_port}" and internal_port not in published
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in listeners
    # A KRaft cluster id is 16 bytes, base64url without padding.
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"])
    assert "kafka-data" in " ".join(kafka["volumes"])


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        if svc.get("restart") == "no":
            continue  # one-shot step
        check = svc.get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
    for name in SERVICES:
        test = compose["services"][name]["healthcheck"]["test"]
        assert test[-1] == "/opt/gridstream/ready.py", f"{name} must probe /ready"


def test_services_start_after_a_healthy_broker_and_created_topics(compose: dict[str, Any]) -> None:
    services = compose["services"]
    one_shot = [n for n, s in _gridstream_services(compose).items() if s.get("restart") == "no"]
    assert one_shot == ["topics"]
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in SERVICES:
        deps = services[name]["depends_on"]
        assert deps["kafka"]["condition"] == "service_healthy"
        assert deps["topics"]["condition"] == "service_completed_successfully"


def test_named_volumes_hold_broker_data_models_and_history(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    assert {"kafka-data", "models", "history"} <= declared
    for name in SERVICES:
        mounts = {v.split(":")[0] for v in compose["services"][name]["volumes"]}
        assert mounts == {"models", "history"} and mounts <= declared


def test_every_command_compose_runs_exists_in_the_cli(compose: dict[str, Any]) -> None:
    from gridstream.cli import build_app

    app = build_app()
    runner = CliRunner()
    commands = {tuple(s["command"][1:]) for s in _gridstream_services(compose).values()}
    for command in sorted(commands):
        # `service NAME` takes the name as an argument; groups such as `topics create` are paths.
        path = list(command[:1]) if command[0] == "service" else list(command)
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, f"`gridstream {' '.join(command)}` is not a command"
