"""deploy/kubernetes rendered offline with kustomize and checked against the code."""

from __future__ import annotations

from typing import Any

from deploy_rules import SERVICES, service_command, unknown_settings

from gridstream.config import SERVICE_PORTS

Obj = dict[str, Any]


def _of_kind(objects: list[Obj], kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def _container(workload: Obj) -> Obj:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: Obj = containers[0]
    return container


def test_a_deployment_per_service_running_its_command(rendered_kustomize: list[Obj]) -> None:
    deployments = _of_kind(rendered_kustomize, "Deployment")
    assert sorted(deployments) == SERVICES
    for name, deployment in deployments.items():
        container = _container(deployment)
        assert container["command"] == service_command(name)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"http": SERVICE_PORTS[name]}
        assert deployment["spec"]["replicas"] >= 1


def test_all_workloads_use_the_same_image(rendered_kustomize: list[Obj]) -> None:
    workloads = [o for o in rendered_kustomize if o["kind"] in ("Deployment", "Job")]
    images = {_container(w)["image"] for w in workloads}
    assert len(workloads) == len(SERVICES) + 1 and len(images) == 1, images


def test_a_service_per_deployment_on_its_default_port(rendered_kustomize: list[Obj]) -> None:
    deployments = _of_kind(rendered_kustomize, "Deployment")
    services = _of_kind(rendered_kustomize, "Service")
    assert sorted(services) == SERVICES
    for name, service in services.items():
        (port,) = service["spec"]["ports"]
        assert port["port"] == SERVICE_PORTS[name] and port["targetPort"] == "http"
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        selector = service["spec"]["selector"]
        assert selector.items() <= pod_labels.items(), f"{name}: selector misses its pods"
        others = [d for n, d in deployments.items() if n != name]
        assert not any(
            selector.items() <= d["spec"]["template"]["metadata"]["labels"].items() for d in others
        ), f"{name}: selector also matches another service's pods"


def test_probes_and_resource_requests(rendered_kustomize: list[Obj]) -> None:
    for name, deployment in _of_kind(rendered_kustomize, "Deployment").items():
        container = _container(deployment)
        ready = container["readinessProbe"]["httpGet"]
        alive = container["livenessProbe"]["httpGet"]
        assert (ready["path"], ready["port"]) == ("/ready", "http"), name
        assert (alive["path"], alive["port"]) == ("/health", "http"), name
        requests = container["resources"]["requests"]
        assert requests.get("cpu") and requests.get("memory"), f"{name} has no resource requests"
        assert container["resources"]["limits"].get("memory"), name


def test_settings_and_credentials_are_real_and_resolve(rendered_kustomize: list[Obj]) -> None:
    config_maps = _of_kind(rendered_kustomize, "ConfigMap")
    secrets = _of_kind(rendered_kustomize, "Secret")
    assert config_maps and secrets
    for obj in [*config_maps.values(), *secrets.values()]:
        keys = [*obj.get("data", {}), *obj.get("stringData", {})]
        assert unknown_settings(keys) == [], obj["metadata"]["name"]
    settings = next(iter(config_maps.values()))["data"]
    assert settings["GRIDSTREAM_HTTP_HOST"] == "0.0.0.0"
    assert settings["GRIDSTREAM_BOOTSTRAP"].endswith("-kafka-bootstrap.kafka.svc:9092")
    for workload in (o for o in rendered_kustomize if o["kind"] in ("Deployment", "Job")):
        container = _container(workload)
        assert unknown_settings(e["name"] for e in container.get("env", [])) == []
        sources = container["envFrom"]
        assert {s["configMapRef"]["name"] for s in sources if "configMapRef" in s} <= set(
            config_maps
        )
        assert {s["secretRef"]["name"] for s in sources if "secretRef" in s} <= set(secrets)
        assert len(sources) == 2, f"{workload['metadata']['name']} misses settings or credentials"


def test_volumes_claims_and_namespace(rendered_kustomize: list[Obj]) -> None:
    claims = set(_of_kind(rendered_kustomize, "PersistentVolumeClaim"))
    namespaces = set(_of_kind(rendered_kustomize, "Namespace"))
    assert len(namespaces) == 1
    for obj in rendered_kustomize:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] in namespaces, obj["metadata"]["name"]
    for deployment in _of_kind(rendered_kustomize, "Deployment").values():
        pod = deployment["spec"]["template"]["spec"]
        used = {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]}
        assert used and used <= claims
        assert pod["securityContext"]["runAsNonRoot"] is True


def test_the_topic_job_creates_topics(rendered_kustomize: list[Obj]) -> None:
    (job,) = _of_kind(rendered_kustomize, "Job").values()
    assert _container(job)["command"] == ["gridstream", "topics", "create"]
