"""The jan.v1 API surface is declared once and everything that names it agrees: every RPC of every jan.v1
service declares its access level in the protos (the auth service's policy reads it from there), every
service is in API_SERVICES, Envoy's transcoder list and its gRPC routes, and the plain-HTTP routes Envoy
serves are the ones the protos declare. These run in `make test`, so CI fails on an RPC without a level."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml
from google.protobuf.descriptor import ServiceDescriptor

from devstack.envoy_config import EnvoyPorts, render
from services.auth.policy import Policy, plain_http_routes, undeclared_rpcs
from services.auth.routes import RouteTable
from services.common.server import API_SERVICES
from tests.conftest import ROOT


def jan_v1_services() -> list[ServiceDescriptor]:
    """Every service of every protos/jan/v1 file (through its generated module)."""
    services: list[ServiceDescriptor] = []
    for proto in sorted((ROOT / "protos" / "jan" / "v1").glob("*.proto")):
        module = importlib.import_module(f"jan.v1.{proto.stem}_pb2")
        services += module.DESCRIPTOR.services_by_name.values()
    return services


def test_every_rpc_of_every_jan_v1_service_declares_its_access_level() -> None:
    services = jan_v1_services()
    assert len(services) >= 5 and sum(len(s.methods) for s in services) >= 60
    missing = undeclared_rpcs(services)
    assert not missing, (
        "these RPCs declare no access level; add `option (access) = ACCESS_...;` (protos/jan/v1/access.proto): "
        + ", ".join(missing)
    )


def test_the_policy_covers_every_jan_v1_service() -> None:
    assert sorted(API_SERVICES) == sorted(s.full_name for s in jan_v1_services())
    Policy(RouteTable())  # raises on an RPC without a level


@pytest.fixture(scope="module")
def envoy_routes(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], list[str]]:
    """The virtual host's routes and the transcoder's service list of the rendered envoy/envoy.yaml."""
    out = tmp_path_factory.mktemp("envoy")
    config = yaml.safe_load(render(EnvoyPorts(8080, 9901, 1, 2, 3, 4, 5, 6), out).read_text())
    (manager,) = [f["typed_config"] for f in config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"]]
    (host,) = manager["route_config"]["virtual_hosts"]
    (transcoder,) = [
        f["typed_config"] for f in manager["http_filters"] if f["name"] == "envoy.filters.http.grpc_json_transcoder"
    ]
    return host["routes"], transcoder["services"]


def test_envoy_transcodes_and_routes_every_service(envoy_routes: tuple[list[dict], list[str]]) -> None:
    routes, transcoded = envoy_routes
    assert sorted(transcoded) == sorted(API_SERVICES)
    prefixes = {r["match"].get("prefix", "") for r in routes}
    grpc_routes = {p.strip("/") for p in prefixes if p.startswith("/jan.")}
    assert grpc_routes == set(API_SERVICES)


def test_envoys_plain_http_routes_are_the_declared_ones(envoy_routes: tuple[list[dict], list[str]]) -> None:
    routes, _ = envoy_routes
    served = {r["match"]["path"] for r in routes if "path" in r["match"]}
    declared = plain_http_routes(jan_v1_services())
    assert served == set(declared), "declare plain-HTTP routes with option (http_routes) on the service serving them"
    # Every other route goes to a gRPC service by prefix (or is Envoy's own 404).
    for route in routes:
        match = route["match"]
        assert set(match) <= {"path", "prefix", "headers"}, match
        if "prefix" in match:
            assert re.fullmatch(r"/(jan\.v1\.\w+/|grpc\.health\.v1\.Health/|grpc\.reflection\.)?", match["prefix"])


def test_the_health_targets_of_edge_lua_name_services_that_exist() -> None:
    lua = (ROOT / "envoy" / "edge.lua").read_text()
    table = lua[lua.index("local HEALTH_TARGETS = {") :]
    table = table[: table.index("}")]
    targets = dict(re.findall(r'\["([\w.]+)"\] = "(\w+)"', table))
    assert set(targets) == set(API_SERVICES)
    assert set(targets.values()) == {"auth", "chat", "inference", "search"}
    assert Path(ROOT / "envoy" / "envoy.yaml").read_text().count("string_match: {exact: auth}") == 1
