"""Who may reach the services in a cluster: each service chart's NetworkPolicy lets in only the pods that call it
(Envoy and chat for auth, Envoy for chat, on each one's ports; auth, chat and Envoy for inference; chat and Envoy
for search), the policies select the
pods the umbrella really renders, and they can be refined or turned off. Also the key the identity headers are
signed with: auth's Secret holds it and chat reads the same Secret and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deploy.helm import HELM, RELEASE, VALUES, Rendered, component, container_env, render, run_helm

pytestmark = pytest.mark.skipif(not HELM.exists(), reason=f"{HELM} is missing; scripts/bootstrap.sh installs it")

# service -> (the components whose pods may call it, the names of its container ports they may use)
CALLERS = {
    "auth": ({"chat", "envoy"}, ["grpc", "authz"]),  # chat polls projects' controls
    "chat": ({"envoy"}, ["grpc", "mcp"]),
    # Envoy health-checks it and passes admin keys' native calls on; auth asks which models are served
    "inference": ({"auth", "chat", "envoy"}, ["grpc"]),
    "search": ({"chat", "envoy"}, ["grpc"]),
}
UMBRELLA_CASES = [None, VALUES / "jan-server-options.yaml"]


@pytest.fixture(scope="module")
def helm_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("helm-home")


def _policies(result: Rendered) -> dict[str, dict[str, Any]]:
    found = {component(p): p for p in result.of_kind("NetworkPolicy")}
    assert len(found) == len(result.of_kind("NetworkPolicy"))
    return found


def _pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"]["labels"]


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) == {"matchLabels"}, selector
    return selector["matchLabels"].items() <= labels.items()


def _container(result: Rendered, name: str) -> dict[str, Any]:
    (workload,) = [w for w in result.workloads() if component(w) == name]
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    return container


@pytest.mark.parametrize("values", UMBRELLA_CASES, ids=["defaults", "options"])
def test_only_the_callers_reach_each_service(values: Path | None, helm_home: Path) -> None:
    result = render("jan-server", helm_home, [values] if values else None)
    policies = _policies(result)
    assert set(policies) == set(CALLERS)  # Envoy is the public entry; PostgreSQL has a password
    workloads = result.workloads()
    for name, (callers, port_names) in CALLERS.items():
        spec = policies[name]["spec"]
        selected = {component(w) for w in workloads if _selects(spec["podSelector"], _pod_labels(w))}
        assert selected == {name}
        assert spec["policyTypes"] == ["Ingress"]
        rule, *scrapers = spec["ingress"]  # the callers, then Prometheus on the metrics port (test_metrics_chart.py)
        assert len(scrapers) == 1 and [p["port"] for p in scrapers[0]["ports"]] == [
            p["containerPort"] for p in _container(result, name)["ports"] if p["name"] == "metrics"
        ]
        for peer in rule["from"]:
            assert set(peer) == {"podSelector"}, peer  # pods of this namespace only
        allowed = {
            component(w) for w in workloads for peer in rule["from"] if _selects(peer["podSelector"], _pod_labels(w))
        }
        assert allowed == callers, name
        container_ports = {p["name"]: p["containerPort"] for p in _container(result, name)["ports"]}
        assert sorted(p["port"] for p in rule["ports"]) == sorted(container_ports[n] for n in port_names), name
        assert {p["protocol"] for p in rule["ports"]} == {"TCP"}
    if values is not None:  # auth's ext_authz port moved to 50071: the policy follows
        assert {p["port"] for p in policies["auth"]["spec"]["ingress"][0]["ports"]} == {50051, 50071}


def test_policies_turn_off_for_the_release_or_one_chart(helm_home: Path) -> None:
    assert not render("jan-server", helm_home, settings={"global.networkPolicy.enabled": False}).of_kind(
        "NetworkPolicy"
    )
    without_search = render("jan-server", helm_home, settings={"search.networkPolicy.enabled": False})
    assert set(_policies(without_search)) == {"auth", "chat", "inference"}
    assert not render("search", helm_home, [VALUES / "search-options.yaml"]).of_kind("NetworkPolicy")


def test_callers_can_be_replaced_or_added_to(helm_home: Path) -> None:
    """inference installed apart from chat names chat's pods itself; chat's policy adds a debugging namespace to
    Envoy's pods, on its own MCP port."""
    rule, _scrapers = _policies(render("inference", helm_home, [VALUES / "inference-options.yaml"]))["inference"][
        "spec"
    ]["ingress"]
    assert rule["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "jan-api"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "chat"}},
        }
    ]
    (rule,) = _policies(render("chat", helm_home, [VALUES / "chat-options.yaml"]))["chat"]["spec"]["ingress"]
    assert rule["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "envoy", "app.kubernetes.io/instance": RELEASE}}},
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "debug"}}},
    ]
    assert [p["port"] for p in rule["ports"]] == [50052, 50072]


# -- the identity key and chat's settings ----------------------------------------------------------------------


def test_auth_and_chat_share_the_identity_key(helm_home: Path) -> None:
    result = render("jan-server", helm_home)
    reference = {"secretKeyRef": {"name": f"{RELEASE}-auth", "key": "JAN_IDENTITY_SECRET"}}
    assert container_env(_container(result, "auth"))["JAN_IDENTITY_SECRET"] == reference
    assert container_env(_container(result, "chat"))["JAN_IDENTITY_SECRET"] == reference
    assert "JAN_IDENTITY_SECRET" in result.named("Secret", f"{RELEASE}-auth")["data"]
    for name in ("inference", "search"):  # they read no identity
        assert "JAN_IDENTITY_SECRET" not in container_env(_container(result, name))


def test_chat_reads_the_identity_key_where_it_is_told(helm_home: Path) -> None:
    env = container_env(_container(render("chat", helm_home, [VALUES / "chat-options.yaml"]), "chat"))
    assert env["JAN_IDENTITY_SECRET"] == {"secretKeyRef": {"name": f"{RELEASE}-identity", "key": "key"}}


def test_umbrella_refuses_auth_keys_of_yours_without_saying_where_chat_finds_the_identity_key(
    helm_home: Path,
) -> None:
    args = ["template", RELEASE, "charts/jan-server", "--set", "auth.secrets.existingSecret=keys"]
    result = run_helm(args, helm_home)
    assert result.returncode != 0 and "global.identity.existingSecret" in result.stderr
    assert run_helm([*args, "--set", "chat.identity.existingSecret=keys"], helm_home).returncode == 0


def test_chat_settings(helm_home: Path) -> None:
    """The MCP port (JAN_CHAT_MCP_LISTEN), the search service's address, the web search steps and query bound."""
    defaults = container_env(_container(render("chat", helm_home), "chat"))
    assert defaults["JAN_CHAT_MCP_LISTEN"] == "[::]:50062"
    assert defaults["JAN_SEARCH_TARGET"] == f"{RELEASE}-search-headless.jan-test.svc.cluster.local:50054"
    assert "JAN_WEB_SEARCH_MAX_STEPS" not in defaults and "JAN_WEB_SEARCH_MAX_QUERY_CHARS" not in defaults
    options = container_env(_container(render("chat", helm_home, [VALUES / "chat-options.yaml"]), "chat"))
    assert options["JAN_CHAT_MCP_LISTEN"] == "[::]:50072"
    assert options["JAN_SEARCH_TARGET"] == "search.tools.svc.cluster.local:50054"
    assert options["JAN_WEB_SEARCH_MAX_STEPS"] == "5" and options["JAN_WEB_SEARCH_MAX_QUERY_CHARS"] == "100"


def test_limits_reach_the_services(helm_home: Path) -> None:
    """Request limits (auth) and output and storage limits (chat) are set only when given (the services' own
    defaults otherwise), 0 included: it turns a limit off."""
    names = {
        "auth": {
            "JAN_RATE_LIMIT_REQUESTS_PER_MINUTE",
            "JAN_GUEST_REQUESTS_PER_MINUTE",
            "JAN_GUEST_ACCOUNTS_PER_IP_PER_HOUR",
            "JAN_SIGN_INS_PER_IP_PER_MINUTE",
            "JAN_INTERNAL_SERVICES_ACCESS",
        },
        "chat": {
            "JAN_MAX_OUTPUT_TOKENS_PER_REQUEST",
            "JAN_GUEST_MAX_OUTPUT_TOKENS",
            "JAN_MAX_ITEM_BYTES",
            "JAN_MAX_CONVERSATION_ITEMS",
            "JAN_GUEST_MAX_CONVERSATION_ITEMS",
        },
    }
    for chart, variables in names.items():
        assert not variables & set(container_env(_container(render(chart, helm_home), chart)))
    auth = container_env(_container(render("auth", helm_home, [VALUES / "auth-options.yaml"]), "auth"))
    assert auth["JAN_RATE_LIMIT_REQUESTS_PER_MINUTE"] == "600" and auth["JAN_GUEST_REQUESTS_PER_MINUTE"] == "0"
    assert auth["JAN_INTERNAL_SERVICES_ACCESS"] == "api" and auth["JAN_GUEST_ACCOUNTS_PER_IP_PER_HOUR"] == "5"
    assert auth["JAN_SIGN_INS_PER_IP_PER_MINUTE"] == "0"  # 0 turns it off, so it is set
    chat = container_env(_container(render("chat", helm_home, [VALUES / "chat-options.yaml"]), "chat"))
    assert chat["JAN_GUEST_MAX_OUTPUT_TOKENS"] == "0" and chat["JAN_MAX_ITEM_BYTES"] == "4194304"
    assert chat["JAN_GUEST_MAX_CONVERSATION_ITEMS"] == "200" and "JAN_MAX_CONVERSATION_ITEMS" not in chat
