"""Helpers for the deployment tests: run helm (from .tools, extracted by scripts/install_helm.sh), render charts
into parsed manifests, and validate manifests against the Kubernetes schemas (kubernetes-validate, in .tools)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT

TOOLS = ROOT / ".tools" / "bin"
HELM = TOOLS / "helm"
CHARTS = ROOT / "charts"
VALUES = Path(__file__).resolve().parent / "values"
# Every chart a user installs (the library chart jan-common is linted but renders nothing on its own).
APP_CHARTS = ("auth", "chat", "inference", "search", "envoy", "postgresql", "jan-server")
SERVICES = {  # component -> (gRPC service name its probes ask for, port)
    "auth": ("jan.v1.SignInService", 50051),
    "chat": ("jan.v1.ChatService", 50052),
    "inference": ("jan.v1.InferenceService", 50053),
    "search": ("jan.v1.SearchService", 50054),
}
# component -> {name: (the variable the service reads its listen address from, default port, appProtocol)} of
# the ports it serves besides grpc: auth's plain HTTP/1.1 endpoint for Envoy's ext_authz, chat's MCP endpoint.
EXTRA_PORTS = {
    "auth": {"authz": ("JAN_AUTH_AUTHZ_LISTEN", 50061, "http")},
    "chat": {"mcp": ("JAN_CHAT_MCP_LISTEN", 50062, "http")},
}
# The oldest Kubernetes the charts declare (kubeVersion >=1.30) and the newest schema set available.
KUBE_VERSIONS = ("1.30.0", "1.37.0")
RELEASE = "jan"
NAMESPACE = "jan-test"


def helm_env(home: Path) -> dict[str, str]:
    """Keeps helm's config, cache and data out of the user's home directory."""
    return {
        **os.environ,
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_DATA_HOME": str(home / "data"),
    }


def run_helm(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HELM), *args], cwd=ROOT, env=helm_env(home), capture_output=True, text=True, timeout=120)


def values_args(values: list[Path] | None = None, settings: dict[str, str | int] | None = None) -> list[str]:
    args: list[str] = []
    for path in values or []:
        args += ["--values", str(path)]
    for key, value in (settings or {}).items():
        if isinstance(value, bool):
            args += ["--set", f"{key}={str(value).lower()}"]
        else:
            args += ["--set-string" if isinstance(value, str) else "--set", f"{key}={value}"]
    return args


@dataclass
class Rendered:
    text: str  # helm's output, with its "# Source:" comments
    manifests: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.manifests if m["kind"] == kind]

    def named(self, kind: str, name: str) -> dict[str, Any]:
        found = [m for m in self.of_kind(kind) if m["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name}; rendered: {self.names()}"
        return found[0]

    def names(self) -> list[str]:
        return sorted(f"{m['kind']}/{m['metadata']['name']}" for m in self.manifests)

    def workloads(self) -> list[dict[str, Any]]:
        return [m for m in self.manifests if m["kind"] in ("Deployment", "StatefulSet")]

    def sources(self) -> list[tuple[str, str]]:
        """(template file name, kind) of every rendered document."""
        found = []
        for document in self.text.split("\n---\n"):
            source = next((line for line in document.splitlines() if line.startswith("# Source: ")), None)
            parsed = yaml.safe_load(document)
            if source and parsed:
                found.append((source.rsplit("/", 1)[-1], parsed["kind"]))
        return found


def render(
    chart: str,  # a chart under charts/, or a packaged chart's path
    home: Path,
    values: list[Path] | None = None,
    settings: dict[str, str | int] | None = None,
    kube_version: str = KUBE_VERSIONS[0],
) -> Rendered:
    result = run_helm(
        [
            "template",
            RELEASE,
            chart if chart.endswith(".tgz") else f"charts/{chart}",
            "--namespace",
            NAMESPACE,
            "--kube-version",
            kube_version,
            *values_args(values, settings),
        ],
        home,
    )
    assert result.returncode == 0, f"helm template {chart} failed:\n{result.stderr}"
    manifests = [m for m in yaml.safe_load_all(result.stdout) if m]
    return Rendered(result.stdout, manifests)


def validate_manifests(path: Path) -> list[str]:
    """Errors (and unknown kinds) of every manifest in `path`, against each of KUBE_VERSIONS, strictly."""
    result = subprocess.run(
        [str(TOOLS / "python"), str(Path(__file__).with_name("k8s_validate.py")), str(path), *KUBE_VERSIONS],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def container_env(container: dict[str, Any]) -> dict[str, Any]:
    """name -> value, or the valueFrom mapping for variables read from Secrets."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def component(manifest: dict[str, Any]) -> str:
    return manifest["metadata"]["labels"]["app.kubernetes.io/name"]
