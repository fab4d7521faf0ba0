"""conf/kubernetes: the kustomize base and the example overlay render (with `kubectl kustomize` when it is
installed, else the base files as they are), every object validates against the Kubernetes JSON schemas
shipped by kubernetes-validate (offline), and the deployment rules hold: probes, resources, graceful
termination longer than the drain, a PDB and an HPA, a Service per role, a gateway.yaml that loads."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from gateway.config.load import load_config

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "conf" / "kubernetes" / "base"
OVERLAY = ROOT / "conf" / "kubernetes" / "overlays" / "example"
KUBERNETES_VERSION = "1.30"  # the oldest release the manifests target (PodDisruptionBudget v1, HPA v2)
PRESTOP_SECONDS = 5


def render(directory: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:  # without kubectl: the base's own resource files (no generators, no overlay)
        files = yaml.safe_load((BASE / "kustomization.yaml").read_text())["resources"]
        return [doc for name in files for doc in yaml.safe_load_all((BASE / name).read_text()) if doc]
    result = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module", params=["base", "overlay"])
def objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    if request.param == "overlay" and shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed: the overlay is rendered by `kubectl kustomize` only")
    return render(BASE if request.param == "base" else OVERLAY)


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def test_every_object_matches_the_kubernetes_schema(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_the_validator_refuses_a_broken_manifest() -> None:
    deployment = yaml.safe_load((BASE / "gateway.deployment.yaml").read_text())
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "eight thousand"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    deployment = yaml.safe_load((BASE / "gateway.deployment.yaml").read_text())
    deployment["spec"]["template"]["spec"]["terminationGracePeriod"] = 45  # misspelt: strict refuses it
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the splp-secrets Secret puts in the environment."""
    monkeypatch.setenv("SPLP_CATALOG_URL", "postgresql://splp@db/splp")
    monkeypatch.setenv("SPLP_REDIS_URL", "redis://redis:6379/0")


@pytest.mark.usefixtures("secrets_env")
def test_roles_probes_resources_and_graceful_termination(objects: list[dict[str, Any]]) -> None:
    config = load_config(BASE / "gateway.yaml")
    limits = config.gateway.gateway.limits
    deployments = by_kind(objects, "Deployment")
    assert set(deployments) == {"splp-gateway", "splp-control", "splp-etl-worker"}
    roles = {"splp-gateway": "gateway", "splp-control": "control"}
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        if name in roles:
            assert container["args"][:3] == ["serve", "--role", roles[name]]
            assert container["readinessProbe"]["httpGet"]["path"] == "/_ready"
            assert container["livenessProbe"]["httpGet"]["path"] == "/_health"
            assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", str(PRESTOP_SECONDS)]
            drain = PRESTOP_SECONDS + limits.drain_delay + limits.graceful_timeout
            assert pod["terminationGracePeriodSeconds"] > drain, f"{name}: the kubelet would kill mid-drain"
    rolling = deployments["splp-gateway"]["spec"]["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] == 0
    assert set(by_kind(objects, "Service")) == {"splp-gateway", "splp-control", "splp-etl-worker"}
    assert set(by_kind(objects, "PodDisruptionBudget")) == {"splp-gateway", "splp-control"}
    (hpa,) = by_kind(objects, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"]["name"] == "splp-gateway"


@pytest.mark.usefixtures("secrets_env")
def test_the_configmap_carries_a_valid_cluster_config(objects: list[dict[str, Any]], tmp_path: Path) -> None:
    configmaps = [o for o in objects if o["kind"] == "ConfigMap"]
    if not configmaps:  # rendered without kubectl: the generator did not run
        configmaps = [{"data": {"gateway.yaml": (BASE / "gateway.yaml").read_text()}}]
    (configmap,) = configmaps
    path = tmp_path / "gateway.yaml"
    path.write_text(configmap["data"]["gateway.yaml"])
    config = load_config(path)
    assert config.gateway.storage.catalog == "postgresql://splp@db/splp"
    assert config.gateway.storage.serve_catalog and config.gateway.gateway.limits.drain_delay > 0
