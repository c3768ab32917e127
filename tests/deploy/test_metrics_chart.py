"""Prometheus metrics in the charts (charts/jan-common/templates/_metrics.tpl): each service's pods open a port
named metrics that the service reads from JAN_<SERVICE>_METRICS_LISTEN, its ClusterIP Service carries it (the
headless one does not, so each pod is scraped once), its NetworkPolicy lets scrapers reach that port only, and
metrics.serviceMonitor.enabled renders a ServiceMonitor whose selector finds exactly that Service port."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helm import HELM, NAMESPACE, RELEASE, VALUES, Rendered, component, container_env, render, run_helm

pytestmark = pytest.mark.skipif(not HELM.exists(), reason=f"{HELM} is missing; scripts/bootstrap.sh installs it")

SERVICE_CHARTS = ("auth", "chat", "inference", "search")
DEFAULT_PORT = 9090


@pytest.fixture(scope="module")
def helm_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("helm-home")


def _container(result: Rendered, name: str) -> dict[str, Any]:
    (workload,) = [w for w in result.workloads() if component(w) == name]
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    return container


def _services(result: Rendered, name: str) -> list[dict[str, Any]]:
    return [s for s in result.of_kind("Service") if component(s) == name]


def _port(ports: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((p for p in ports if p["name"] == name), None)


def _metrics_rules(result: Rendered, name: str) -> list[dict[str, Any]]:
    (policy,) = [p for p in result.of_kind("NetworkPolicy") if component(p) == name]
    return policy["spec"]["ingress"][1:]


def test_on_by_default_on_a_port_of_their_own(helm_home: Path) -> None:
    result = render("jan-server", helm_home)
    assert not result.of_kind("ServiceMonitor")  # only when asked for
    for name in SERVICE_CHARTS:
        container = _container(result, name)
        assert _port(container["ports"], "metrics") == {
            "name": "metrics",
            "containerPort": DEFAULT_PORT,
            "protocol": "TCP",
        }
        assert container_env(container)[f"JAN_{name.upper()}_METRICS_LISTEN"] == f"[::]:{DEFAULT_PORT}"
        by_kind = {s["spec"].get("clusterIP") == "None": s for s in _services(result, name)}
        assert _port(by_kind[False]["spec"]["ports"], "metrics") == {
            "name": "metrics",
            "port": DEFAULT_PORT,
            "targetPort": "metrics",
            "protocol": "TCP",
            "appProtocol": "http",
        }
        assert _port(by_kind[True]["spec"]["ports"], "metrics") is None  # the headless Service
        (rule,) = _metrics_rules(result, name)
        assert rule == {"from": [{"namespaceSelector": {}}], "ports": [{"protocol": "TCP", "port": DEFAULT_PORT}]}
    assert _port(_container(result, "envoy")["ports"], "metrics") is None  # Envoy's stats are its admin port's


def test_off_renders_nothing_of_them(helm_home: Path) -> None:
    result = render("chat", helm_home, [VALUES / "chat-options.yaml"])  # enabled: false, serviceMonitor asked for
    container = _container(result, "chat")
    assert _port(container["ports"], "metrics") is None
    assert "JAN_CHAT_METRICS_LISTEN" not in container_env(container)  # the service's default: off
    assert all(_port(s["spec"]["ports"], "metrics") is None for s in _services(result, "chat"))
    assert not result.of_kind("ServiceMonitor")
    assert not _metrics_rules(result, "chat")


def test_the_port_and_the_scrapers_are_values(helm_home: Path) -> None:
    auth = render("auth", helm_home, [VALUES / "auth-options.yaml"])
    assert _port(_container(auth, "auth")["ports"], "metrics")["containerPort"] == 9464
    assert container_env(_container(auth, "auth"))["JAN_AUTH_METRICS_LISTEN"] == "[::]:9464"
    inference = render("inference", helm_home, [VALUES / "inference-options.yaml"])
    (rule,) = _metrics_rules(inference, "inference")
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]


@pytest.mark.parametrize("chart", SERVICE_CHARTS)
def test_service_monitor_scrapes_each_pod_once(chart: str, helm_home: Path) -> None:
    settings = {f"{c}.metrics.serviceMonitor.enabled": True for c in SERVICE_CHARTS}
    result = render("jan-server", helm_home, settings=settings)
    monitors = {component(m): m for m in result.of_kind("ServiceMonitor")}
    assert set(monitors) == set(SERVICE_CHARTS)
    monitor = monitors[chart]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["name"] == f"{RELEASE}-{chart}"
    assert monitor["metadata"]["namespace"] == NAMESPACE
    spec = monitor["spec"]
    assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (endpoint,) = spec["endpoints"]
    assert endpoint == {"port": "metrics", "path": "/metrics", "scheme": "http"}
    selected = [
        s
        for s in result.of_kind("Service")
        if spec["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
    ]
    assert {component(s) for s in selected} == {chart}
    # Prometheus keeps the endpoints of a selected Service's port named `metrics`: one Service has it, and its
    # selector is the pods'.
    (scraped,) = [s for s in selected if _port(s["spec"]["ports"], "metrics")]
    (workload,) = [w for w in result.workloads() if component(w) == chart]
    pod_labels = workload["spec"]["template"]["metadata"]["labels"]
    assert scraped["spec"]["selector"].items() <= pod_labels.items()


def test_service_monitor_options(helm_home: Path) -> None:
    (auth,) = render("auth", helm_home, [VALUES / "auth-options.yaml"]).of_kind("ServiceMonitor")
    assert auth["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert auth["spec"]["endpoints"][0] | {} == {
        "port": "metrics",
        "path": "/metrics",
        "scheme": "http",
        "interval": "30s",
        "scrapeTimeout": "10s",
    }
    (inference,) = render("inference", helm_home, [VALUES / "inference-options.yaml"]).of_kind("ServiceMonitor")
    assert inference["metadata"]["namespace"] == "monitoring"
    assert inference["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}  # still finds the release's Services
    (umbrella,) = render("jan-server", helm_home, [VALUES / "jan-server-options.yaml"]).of_kind("ServiceMonitor")
    assert component(umbrella) == "auth"


def test_schema_refuses_a_bad_interval(helm_home: Path) -> None:
    result = run_helm(
        ["template", RELEASE, "charts/search", "--set", "metrics.serviceMonitor.interval=soon"], helm_home
    )
    assert result.returncode != 0 and "interval" in result.stderr
