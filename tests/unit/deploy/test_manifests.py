"""What can be checked of deploy/ without a cluster: the files parse, and every workload
has probes, resource requests, a non-root user, the image and a known command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from services.catalog import SERVICES

DEPLOY = Path(__file__).parents[3] / "deploy"


def k8s_documents() -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return documents


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    files = {p.name for p in (DEPLOY / "k8s").glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_service_deployment_is_probed_resourced_and_unprivileged(service: str) -> None:
    deployments = [
        d
        for d in k8s_documents()
        if d["kind"] == "Deployment" and d["metadata"]["name"] == f"leadflow-{service}"
    ]
    assert len(deployments) == 1
    pod = deployments[0]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["args"][:2] == ["serve", service]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"]["cpu"]
    assert container["resources"]["requests"]["memory"]
    assert pod["terminationGracePeriodSeconds"] > 20  # uvicorn's graceful shutdown is 20 s


def test_compose_runs_kafka_postgres_migrations_and_every_service() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "kafka", "migrate", "topics", *SERVICES} <= set(services)
    assert "broker,controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    assert services["migrate"]["command"] == ["migrate"]
    for name in SERVICES:
        assert services[name]["command"][:2] == ["serve", name]
        assert services[name]["deploy"]["replicas"] >= 2
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
        assert services[name]["environment"]["KAFKA_ENABLE_IDEMPOTENCE"] == "true"
