"""Route resolution from the jan.v1 descriptors and the access rules, without a database."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from google.protobuf import descriptor_pb2

from jan.v1 import access_pb2
from services.auth.authn import Principal
from services.auth.policy import UNROUTED, Access, Policy, plain_http_routes, undeclared_rpcs
from services.auth.routes import RouteTable
from services.common import errors

POLICY = Policy(RouteTable())


def fake_service(name: str, **methods: int | None) -> SimpleNamespace:
    """A stand-in for a ServiceDescriptor whose methods declare the given jan.v1.Access values (None: none)."""

    def method(method_name: str, level: int | None) -> SimpleNamespace:
        options = descriptor_pb2.MethodOptions()
        if level is not None:
            options.Extensions[access_pb2.access] = level
        return SimpleNamespace(name=method_name, GetOptions=lambda: options)

    service_options = descriptor_pb2.ServiceOptions()
    return SimpleNamespace(
        full_name=name, methods=[method(n, v) for n, v in methods.items()], GetOptions=lambda: service_options
    )


def test_an_rpc_without_a_level_is_found() -> None:
    service = fake_service(
        "jan.v1.FakeService",
        Declared=access_pb2.ACCESS_API,
        Forgotten=None,
        Unspecified=access_pb2.ACCESS_UNSPECIFIED,
        FromTheFuture=99,  # a level this build does not know is no level either
    )
    assert undeclared_rpcs([service]) == [
        "/jan.v1.FakeService/Forgotten",
        "/jan.v1.FakeService/Unspecified",
        "/jan.v1.FakeService/FromTheFuture",
    ]


def test_the_policy_refuses_to_start_with_an_rpc_without_a_level() -> None:
    table = RouteTable()
    table.services = (*table.services, fake_service("jan.v1.FakeService", Forgotten=None))  # type: ignore[assignment]
    with pytest.raises(ValueError, match=re.escape("/jan.v1.FakeService/Forgotten")):
        Policy(table)


def test_every_level_is_read_from_the_protos() -> None:
    assert {level.name for level in Access} == {
        v.name.removeprefix("ACCESS_") for v in access_pb2.Access.DESCRIPTOR.values if v.number
    }
    assert Access.from_proto(access_pb2.ACCESS_ORG_OWNER) is Access.ORG_OWNER
    assert Access.from_proto(access_pb2.ACCESS_UNSPECIFIED) is None


def test_plain_http_routes_are_declared_in_the_protos() -> None:
    assert POLICY.http_routes == {"/v1/mcp": Access.API, "/openapi.json": Access.PUBLIC}
    assert POLICY.resolve("GET", "/openapi.json?x=1") == (None, Access.PUBLIC)
    assert POLICY.resolve("GET", "/openapi.yaml") == (None, Access.ANY)  # UNROUTED: a credential is needed
    service = fake_service("jan.v1.FakeService")
    route = service.GetOptions().Extensions[access_pb2.http_routes].add()
    route.path = "/v1/nowhere"  # no access: refused
    with pytest.raises(ValueError, match="needs a path and an access"):
        plain_http_routes([service])


def test_every_rest_rule_resolves_back_to_its_rpc() -> None:
    table = RouteTable()
    rules = table.rest_rules()
    assert len(rules) >= 50
    for method, template, rpc in rules:
        path = template.replace("*", "x1")
        assert table.rest(method, path) == rpc, (method, template)


@pytest.mark.parametrize(
    ("method", "path", "rpc", "access"),
    [
        ("POST", "/v1/auth/guest-login", "GuestLogin", Access.PUBLIC),
        ("POST", "/v1/auth/login?next=/x", "Login", Access.PUBLIC),
        ("GET", "/v1/auth/google/login", "GetGoogleLoginUrl", Access.PUBLIC),
        ("GET", "/v1/auth/me", "GetMe", Access.ANY),
        ("GET", "/v1/auth/me/", "GetMe", Access.ANY),  # the transcoder drops trailing empty segments
        ("GET", "/v1/auth/%6De", "GetMe", Access.ANY),
        ("POST", "/v1/auth/invites/accept", "AcceptInvite", Access.SESSION),
        ("GET", "/v1/organization/projects", "ListProjects", Access.ORG_OWNER),
        ("POST", "/v1/organization/projects/proj_1", "ModifyProject", Access.ORG_OWNER),
        ("POST", "/v1/organization/projects/proj_1/archive", "ArchiveProject", Access.ORG_OWNER),
        ("DELETE", "/v1/organization/projects/p/users/u", "DeleteProjectUser", Access.PROJECT_OWNER),
        ("POST", "/v1/organization/projects/p/api_keys", "CreateProjectApiKey", Access.PROJECT_MEMBER),
        ("GET", "/v1/organization/admin_api_keys/key_1", "GetAdminApiKey", Access.ORG_OWNER),
        ("GET", "/v1/organization/usage/completions", "GetCompletionsUsage", Access.ORG_OWNER),
        ("POST", "/jan.v1.UsageService/GetCompletionsUsage", "GetCompletionsUsage", Access.ORG_OWNER),
        ("POST", "/v1/chat/completions", "CreateChatCompletionJson", Access.API),
        ("POST", "/v1/chat/completions:stream", "StreamChatCompletionEvents", Access.API),
        ("GET", "/v1/models", "ListModels", Access.API),
        ("GET", "/v1/models/org/model-name", "GetModel", Access.API),
        ("PATCH", "/v1/conversations/conv_1", "UpdateConversation", Access.API),
        ("POST", "/jan.v1.SignInService/GetMe", "GetMe", Access.ANY),
        ("POST", "/jan.v1.SignInService/Login", "Login", Access.PUBLIC),
        ("POST", "/jan.v1.SignInService/AcceptInvite", "AcceptInvite", Access.SESSION),
        ("POST", "/jan.v1.OrganizationService/ListUsers", "ListUsers", Access.ORG_OWNER),
        ("POST", "/jan.v1.OrganizationService/CreateProjectApiKey", "CreateProjectApiKey", Access.PROJECT_MEMBER),
        ("POST", "/jan.v1.OrganizationService/ModifyProjectUser", "ModifyProjectUser", Access.PROJECT_OWNER),
        ("POST", "/jan.v1.ChatService/ListModels", "ListModels", Access.API),
        ("POST", "/jan.v1.InferenceService/Generate", "Generate", Access.INTERNAL),
        ("POST", "/jan.v1.InferenceService/ListModels", "ListModels", Access.INTERNAL),
        ("POST", "/jan.v1.SearchService/Search", "Search", Access.INTERNAL),
        ("POST", "/jan.v1.SearchService/Scrape", "Scrape", Access.INTERNAL),
    ],
)
def test_requests_resolve_to_rpcs(method: str, path: str, rpc: str, access: Access) -> None:
    found, level = POLICY.resolve(method, path)
    assert found is not None and found.method == rpc and level is access


@pytest.mark.parametrize(
    ("method", "path", "access"),
    [
        ("POST", "/grpc.health.v1.Health/Check", Access.PUBLIC),
        ("POST", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", Access.PUBLIC),
        # Reaching no RPC and no declared route: a credential is needed (then Envoy's 404), never public.
        ("GET", "/v1/no-such-thing", UNROUTED),
        ("DELETE", "/v1/auth/me", UNROUTED),  # no such route for the method
        ("POST", "/v1/auth/login/x", UNROUTED),
        ("GET", "/v1/mcp/", UNROUTED),  # plain-HTTP routes match exactly
        ("POST", "/v1/conversations/c:stream", UNROUTED),
        ("GET", "/", UNROUTED),
        ("POST", "/jan.v1.SignInService/NoSuchMethod", UNROUTED),  # reaches a service: needs a credential
        ("POST", "/jan.v1.AuthService/GetMe", UNROUTED),  # the service before the split: no more
        ("POST", "/jan.v1.InferenceService/NoSuchMethod", Access.INTERNAL),  # of an internal service: its level
        ("POST", "/jan.v1.SearchServiceX/Search", UNROUTED),
        ("POST", "/grpc.health.v1.Health/Check?service=jan.v1.InferenceService", Access.PUBLIC),
        ("POST", "/v1/mcp", Access.API),  # plain HTTP routes: the MCP endpoint
        ("GET", "/v1/mcp", Access.API),
        ("DELETE", "/v1/mcp?x=1", Access.API),
    ],
)
def test_unrouted_requests(method: str, path: str, access: Access) -> None:
    assert POLICY.resolve(method, path)[1] is access


def principal(key_type: str, org_role: str | None = "reader", projects: dict | None = None) -> Principal:
    return Principal("user_1", "org_1", key_type, "k", org_role, projects=projects or {})


SESSIONS = ["session", "owner", "project-owner", "project-member"]
ALLOWED = {
    Access.ANY: [*SESSIONS, "project", "service_account", "admin"],
    Access.API: [*SESSIONS, "project", "service_account"],
    Access.SESSION: SESSIONS,
    Access.PROJECT_MEMBER: ["owner", "admin", "project-owner", "project-member"],
    Access.PROJECT_OWNER: ["owner", "admin", "project-owner"],
    Access.ORG_OWNER: ["owner", "admin"],
    Access.INTERNAL: ["owner", "admin"],  # no guest, session, project or service-account key
}
PRINCIPALS = {
    "session": principal("session"),
    "owner": principal("session", "owner"),
    "project-owner": principal("session", projects={"p": "owner"}),
    "project-member": principal("session", projects={"p": "member"}),
    "project": principal("project"),
    "service_account": principal("service_account", None),
    "admin": principal("admin", "owner"),
}


@pytest.mark.parametrize("access", list(ALLOWED))
@pytest.mark.parametrize("who", list(PRINCIPALS))
def test_access_rules(access: Access, who: str) -> None:
    p = PRINCIPALS[who]
    if who in ALLOWED[access]:
        POLICY.authorize(access, p)
    else:
        with pytest.raises(errors.PermissionDenied):
            POLICY.authorize(access, p)


def test_admin_key_of_a_demoted_owner_is_refused() -> None:
    for access in (Access.ORG_OWNER, Access.INTERNAL):
        with pytest.raises(errors.PermissionDenied):
            POLICY.authorize(access, principal("admin", "reader"))


def test_a_guest_is_refused_the_internal_services_with_a_reason() -> None:
    guest = Principal("user_g", "org_1", "session", "k", "reader", guest=True)
    with pytest.raises(errors.PermissionDenied) as raised:
        POLICY.authorize(Access.INTERNAL, guest)
    assert "internal" in raised.value.message and "/v1/mcp" in raised.value.message


def test_the_internal_services_can_be_opened_to_api_callers() -> None:
    opened = Policy(RouteTable(), internal=Access.API)
    assert opened.resolve("POST", "/jan.v1.InferenceService/Generate")[1] is Access.API
    assert opened.resolve("POST", "/jan.v1.SearchService/NoSuchMethod")[1] is Access.API
    assert opened.resolve("POST", "/jan.v1.OrganizationService/ListUsers")[1] is Access.ORG_OWNER


def test_unrouted_requests_need_a_credential() -> None:
    assert UNROUTED is not Access.PUBLIC
    for who in PRINCIPALS.values():  # and any valid one will do: the answer is then a 404
        POLICY.authorize(UNROUTED, who)
