"""The envoy chart's configuration is the repository's one Envoy configuration, not a copy: charts/envoy/files
links to envoy/, and the ConfigMap fills envoy/envoy.yaml's placeholders the way devstack/envoy_config.py
does. Rendered with the local stack's addresses it is byte for byte devstack's file; rendered with cluster
addresses it is the same template filled with those; and Envoy itself accepts what the chart renders."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path
from string import Template

import pytest
import yaml

from devstack.envoy_config import ENVOY_DIR, EdgeSettings, EnvoyPorts
from devstack.envoy_config import render as devstack_render
from tests.deploy.helm import CHARTS, HELM, NAMESPACE, RELEASE, TOOLS, VALUES, Rendered, render, run_helm

pytestmark = pytest.mark.skipif(not HELM.exists(), reason=f"{HELM} is missing; scripts/bootstrap.sh installs it")

ENVOY = TOOLS / "envoy"
CONFIGMAP = f"{RELEASE}-envoy"
# ConfigMaps (like every object) are limited to 1 MiB; descriptor.pb grows with the API.
CONFIGMAP_LIMIT = 1024 * 1024


@pytest.fixture(scope="module")
def helm_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("helm-home")


def _files(result: Rendered) -> dict[str, bytes]:
    """The ConfigMap's files, as the pod sees them in its mounted directory."""
    configmap = result.named("ConfigMap", CONFIGMAP)
    files = {name: text.encode() for name, text in configmap["data"].items()}
    files |= {name: base64.b64decode(data) for name, data in configmap["binaryData"].items()}
    return files


def test_files_link_to_the_one_envoy_directory() -> None:
    link = CHARTS / "envoy" / "files"
    assert link.is_symlink(), "charts/envoy/files must be a link to ../../envoy, not a copy"
    assert link.resolve() == ENVOY_DIR.resolve()


def test_local_addresses_render_exactly_what_devstack_renders(helm_home: Path, tmp_path: Path) -> None:
    ports = EnvoyPorts(
        listen=18080,
        admin=19901,
        auth=15051,
        auth_authz=15061,
        chat=15052,
        chat_mcp=15062,
        inference=15053,
        search=15054,
    )
    out_dir = tmp_path / "devstack"
    edge = EdgeSettings.from_env(
        {
            "JAN_CORS_ALLOWED_ORIGINS": "http://localhost:1337, https://Chat-UI.example.com",
            "JAN_MAX_REQUEST_BYTES": "1048576",
            "JAN_MAX_REQUEST_HEADERS_KB": "24",
            "JAN_REQUEST_HEADERS_TIMEOUT_SECONDS": "3",
            "JAN_REQUEST_TIMEOUT_SECONDS": "90",
            "JAN_TRUSTED_PROXY_HOPS": "2",
        }
    )
    devstack_render(ports, out_dir, listen_address="0.0.0.0", edge=edge, health_check_interval="1s")
    settings: dict[str, str | int] = {
        "configDir": str(out_dir),
        "listen.address": "0.0.0.0",
        "listen.port": ports.listen,
        "admin.address": "127.0.0.1",
        "admin.port": ports.admin,
        "limits.maxRequestBytes": 1048576,
        "limits.maxRequestHeadersKb": 24,
        "timeouts.requestHeaders": "3s",
        "timeouts.request": "90s",
        "healthCheckInterval": "1s",
        "trustedProxyHops": 2,
    }
    for service in ("auth", "chat", "inference", "search"):
        settings[f"upstreams.{service}.host"] = "127.0.0.1"
        settings[f"upstreams.{service}.port"] = getattr(ports, service)
    settings["upstreams.auth.authzPort"] = ports.auth_authz
    settings["upstreams.chat.mcpPort"] = ports.chat_mcp
    origins = tmp_path / "origins.yaml"
    origins.write_text(
        yaml.safe_dump({"cors": {"allowedOrigins": ["http://localhost:1337", "https://Chat-UI.example.com"]}})
    )
    files = _files(render("envoy", helm_home, [origins], settings=settings))
    assert set(files) == {"envoy.yaml", "edge.lua", "descriptor.pb", "openapi.json"}
    for name, content in files.items():
        assert content == (out_dir / name).read_bytes(), f"{name} differs from devstack's"


def test_cluster_addresses_fill_the_same_template(helm_home: Path) -> None:
    files = _files(render("jan-server", helm_home))
    hosts = {
        s: f"{RELEASE}-{s}-headless.{NAMESPACE}.svc.cluster.local" for s in ("auth", "chat", "inference", "search")
    }
    expected = Template((ENVOY_DIR / "envoy.yaml").read_text()).substitute(
        LISTEN_ADDRESS="0.0.0.0",
        LISTEN_PORT=8080,
        ADMIN_ADDRESS="127.0.0.1",
        ADMIN_PORT=9901,
        CONFIG_DIR="/etc/envoy",
        CORS_ALLOWED_ORIGIN_REGEX="^$",  # no origin: CORS answers no page
        MAX_REQUEST_BYTES=16 * 1024 * 1024,
        TOO_LARGE_BODY_BYTES=16 * 1024 * 1024 + 1,
        MAX_REQUEST_HEADERS_KB=16,
        REQUEST_HEADERS_TIMEOUT="10s",
        REQUEST_TIMEOUT="60s",
        HEALTH_CHECK_INTERVAL="5s",
        TRUSTED_PROXY_HOPS=0,  # the connection's peer is the client
        AUTH_HOST=hosts["auth"],
        AUTH_PORT=50051,
        AUTH_AUTHZ_PORT=50061,
        CHAT_HOST=hosts["chat"],
        CHAT_PORT=50052,
        CHAT_MCP_PORT=50062,
        INFERENCE_HOST=hosts["inference"],
        INFERENCE_PORT=50053,
        SEARCH_HOST=hosts["search"],
        SEARCH_PORT=50054,
    )
    assert files["envoy.yaml"].decode() == expected
    assert files["edge.lua"] == (ENVOY_DIR / "edge.lua").read_bytes()
    assert files["descriptor.pb"] == (ENVOY_DIR / "descriptor.pb").read_bytes()
    assert files["openapi.json"] == (ENVOY_DIR / "openapi.json").read_bytes()
    assert sum(len(content) for content in files.values()) * 4 // 3 < CONFIGMAP_LIMIT


@pytest.mark.skipif(not ENVOY.exists(), reason=f"{ENVOY} is missing; scripts/bootstrap.sh installs it")
@pytest.mark.parametrize("values", [None, VALUES / "jan-server-options.yaml"], ids=["defaults", "options"])
def test_envoy_accepts_the_rendered_configuration(values: Path | None, helm_home: Path, tmp_path: Path) -> None:
    """`envoy --mode validate` on the chart's files, written where the rendered config says they are."""
    config_dir = tmp_path / "etc-envoy"
    config_dir.mkdir()
    result = render(
        "jan-server", helm_home, [values] if values else None, settings={"envoy.configDir": str(config_dir)}
    )
    for name, content in _files(result).items():
        (config_dir / name).write_bytes(content)
    check = subprocess.run(
        [str(ENVOY), "--mode", "validate", "-c", str(config_dir / "envoy.yaml"), "--log-level", "warn"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "OK" in check.stdout


def test_upstream_addresses_come_from_the_values(helm_home: Path) -> None:
    """upstreams.<service>.host/port, auth's authzPort (its HTTP ext_authz endpoint) and chat's mcpPort (its MCP
    endpoint), each on its service's host."""
    config = _files(render("envoy", helm_home, [VALUES / "envoy-options.yaml"]))["envoy.yaml"].decode()
    ports: dict[str, set[int]] = {}
    for cluster in yaml.safe_load(config)["static_resources"]["clusters"]:
        for endpoints in cluster["load_assignment"]["endpoints"]:
            for endpoint in endpoints["lb_endpoints"]:
                socket = endpoint["endpoint"]["address"]["socket_address"]
                ports.setdefault(socket["address"], set()).add(socket["port_value"])
    assert ports == {
        "auth.identity.svc.cluster.local": {7001, 7061},
        "chat.api.svc.cluster.local": {7002, 7062},
        "inference.gpu.svc.cluster.local": {7003},
        "search.api.svc.cluster.local": {7004},
    }


def test_a_placeholder_the_chart_does_not_fill_fails_the_render(helm_home: Path, tmp_path: Path) -> None:
    chart = tmp_path / "envoy"
    shutil.copytree(CHARTS / "envoy", chart)  # follows the links: a self-contained copy
    config = chart / "files" / "envoy.yaml"
    config.write_text(config.read_text().replace("stat_prefix: jan_edge", "stat_prefix: ${NEW_SETTING}", 1))
    result = run_helm(["template", RELEASE, str(chart)], helm_home)
    assert result.returncode != 0
    assert "${NEW_SETTING}" in result.stderr


def test_config_changes_roll_the_pods(helm_home: Path) -> None:
    before = render("envoy", helm_home).named("Deployment", CONFIGMAP)
    after = render("envoy", helm_home, settings={"healthCheckInterval": "7s"}).named("Deployment", CONFIGMAP)
    annotation = "checksum/config"
    assert (
        before["spec"]["template"]["metadata"]["annotations"][annotation]
        != (after["spec"]["template"]["metadata"]["annotations"][annotation])
    )


def test_edge_settings_have_the_same_defaults_in_the_chart_and_devstack(helm_home: Path) -> None:
    config = _files(render("envoy", helm_home))["envoy.yaml"].decode()
    for name, value in EdgeSettings().placeholders().items():
        assert Template(f"${{{name}}}").substitute({name: value}) in config or str(value) in config, name
    defaults = yaml.safe_load((CHARTS / "envoy" / "values.yaml").read_text())
    edge = EdgeSettings()
    assert defaults["cors"]["allowedOrigins"] == list(edge.cors_allowed_origins)
    assert defaults["limits"] == {
        "maxRequestBytes": edge.max_request_bytes,
        "maxRequestHeadersKb": edge.max_request_headers_kb,
    }
    assert defaults["timeouts"] == {
        "requestHeaders": f"{edge.request_headers_timeout_seconds}s",
        "request": f"{edge.request_timeout_seconds}s",
    }
    assert defaults["trustedProxyHops"] == edge.trusted_proxy_hops


def test_cors_origins_become_one_exact_match(helm_home: Path) -> None:
    """Listed origins, escaped and anchored; "null" and wildcards are refused by the schema."""
    config = _files(render("jan-server", helm_home, [VALUES / "jan-server-options.yaml"]))["envoy.yaml"].decode()
    assert (
        'safe_regex: {regex: "^(https://example\\\\.com|https://www\\\\.example\\\\.com|http://localhost:3000)$"}'
        in config
    )
    for bad in ("null", "*", "https://*.example.com", "https://example.com/path"):
        result = run_helm(
            ["template", RELEASE, "charts/envoy", "--set-json", f'cors.allowedOrigins=["{bad}"]'], helm_home
        )
        assert result.returncode != 0, bad


def test_admin_stays_on_loopback(helm_home: Path) -> None:
    result = render("jan-server", helm_home)
    (container,) = result.named("Deployment", CONFIGMAP)["spec"]["template"]["spec"]["containers"]
    assert [p["containerPort"] for p in container["ports"]] == [8080]
    assert 'socket_address: {address: "127.0.0.1", port_value: 9901}' in _files(result)["envoy.yaml"].decode()
