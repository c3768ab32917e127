"""The edge, through the real Envoy: health, reflection, OpenAI-shaped errors, CORS and trace context."""

from __future__ import annotations

import json
import secrets
import subprocess
import urllib.error
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devstack.stack import Stack
from jan.v1 import chat_service_pb2, chat_service_pb2_grpc
from tests.conftest import ROOT
from tests.support.otlp import OtlpReceiver


def http(
    stack: Stack, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(stack.http_url + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def assert_openai_error(body: bytes, type_: str | None = None) -> dict:
    error = json.loads(body)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    if type_:
        assert error["type"] == type_
    return error


@pytest.mark.parametrize(
    "service",
    [
        "jan.v1.SignInService",
        "jan.v1.OrganizationService",
        "jan.v1.ChatService",
        "jan.v1.ResponsesService",
        "jan.v1.InferenceService",
        "jan.v1.SearchService",
        "",
    ],
)
async def test_each_service_reports_serving_through_envoy(edge_channel: grpc.aio.Channel, service: str) -> None:
    stub = health_pb2_grpc.HealthStub(edge_channel)
    response = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
    assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_health_check_reaches_the_named_service(edge_channel: grpc.aio.Channel) -> None:
    # Only the service itself knows its own name; asking auth about chat would be NOT_FOUND.
    stub = health_pb2_grpc.HealthStub(edge_channel)
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await stub.Check(health_pb2.HealthCheckRequest(service="jan.v1.NoSuchService"), timeout=10)
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


async def test_the_auth_service_before_the_split_is_gone(edge_channel: grpc.aio.Channel, guest_token: str) -> None:
    """jan.v1.AuthService became jan.v1.SignInService and jan.v1.OrganizationService (protos/API_BASELINE): its
    health name and its methods answer nothing, for any caller."""
    with pytest.raises(grpc.aio.AioRpcError) as health:
        await health_pb2_grpc.HealthStub(edge_channel).Check(
            health_pb2.HealthCheckRequest(service="jan.v1.AuthService"), timeout=10
        )
    assert health.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as call:
        await edge_channel.unary_unary("/jan.v1.AuthService/GetMe")(
            b"", metadata=(("authorization", f"Bearer {guest_token}"),), timeout=10
        )
    assert call.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_healthz_is_ok_when_every_service_serves(stack: Stack) -> None:
    status, _headers, body = http(stack, "GET", "/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok"}


def test_grpcurl_lists_every_service_by_reflection_through_envoy(stack: Stack) -> None:
    out = subprocess.run(
        [str(ROOT / ".tools" / "bin" / "grpcurl"), "-plaintext", stack.grpc_target, "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    for service in (
        "jan.v1.SignInService",
        "jan.v1.OrganizationService",
        "jan.v1.ChatService",
        "jan.v1.InferenceService",
        "jan.v1.SearchService",
        "grpc.health.v1.Health",
    ):
        assert service in out
    assert "jan.v1.AuthService" not in out  # split into SignInService and OrganizationService
    described = subprocess.run(
        [str(ROOT / ".tools" / "bin" / "grpcurl"), "-plaintext", stack.grpc_target, "describe", "jan.v1.ChatService"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert 'post:"/v1/chat/completions"' in described


def test_unknown_path_is_a_json_404(stack: Stack, guest_token: str) -> None:
    status, headers, body = http(stack, "GET", "/v1/no-such-thing", headers={"authorization": f"Bearer {guest_token}"})
    assert status == 404 and headers["content-type"] == "application/json"
    assert "/v1/no-such-thing" in assert_openai_error(body, "invalid_request_error")["message"]


UNKNOWN_PATHS = [
    ("GET", "/v1/no-such-thing"),
    ("DELETE", "/v1/auth/me"),  # a route, but not for this method
    ("POST", "/v1/auth/login/x"),
    ("GET", "/v1/organization/nowhere"),
    ("POST", "/v1/mcp/"),  # plain-HTTP routes match exactly
    ("GET", "/"),
]


@pytest.mark.parametrize(("method", "path"), UNKNOWN_PATHS)
def test_unknown_paths_are_refused_without_a_credential(stack: Stack, method: str, path: str) -> None:
    """A request that reaches no declared RPC or route is not public: 401 without a credential, in OpenAI's
    shape, so nothing Envoy routes by accident is open and the API's paths cannot be probed anonymously."""
    status, headers, body = http(stack, method, path)
    assert status == 401 and headers["content-type"] == "application/json", body
    assert assert_openai_error(body, "authentication_error")["message"] == "Missing bearer authentication in header"
    status, _, body = http(stack, method, path, headers={"authorization": "Bearer not-a-token"})
    assert status == 401, body


@pytest.mark.parametrize(("method", "path"), UNKNOWN_PATHS)
def test_unknown_paths_are_a_404_with_a_credential(stack: Stack, guest_token: str, method: str, path: str) -> None:
    status, headers, body = http(stack, method, path, headers={"authorization": f"Bearer {guest_token}"})
    assert status == 404 and headers["content-type"] == "application/json", body
    assert assert_openai_error(body, "invalid_request_error")["code"] == "unknown_url"


async def test_unknown_grpc_methods_need_a_credential(edge_channel: grpc.aio.Channel, guest_token: str) -> None:
    unknown = edge_channel.unary_unary("/jan.v1.ChatService/NoSuchMethod")
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await unknown(b"", timeout=10)
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as signed_in:
        await unknown(b"", metadata=(("authorization", f"Bearer {guest_token}"),), timeout=10)
    assert signed_in.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_malformed_json_is_a_json_400(stack: Stack, guest_token: str) -> None:
    status, headers, body = http(
        stack,
        "POST",
        "/v1/conversations",
        b'{"metadata": ',
        {"content-type": "application/json", "authorization": f"Bearer {guest_token}"},
    )
    assert status == 400 and headers["content-type"] == "application/json"
    assert_openai_error(body, "invalid_request_error")


def test_cors_preflight_is_answered_by_envoy(stack: Stack) -> None:
    status, headers, _ = http(
        stack,
        "OPTIONS",
        "/v1/models",
        headers={
            "origin": "http://localhost:1337",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type",
        },
    )
    assert status == 200
    assert headers["access-control-allow-origin"] == "http://localhost:1337"
    assert "POST" in headers["access-control-allow-methods"]


def test_w3c_trace_context_passes_through_envoy_to_the_service(
    stack: Stack, otlp: OtlpReceiver, guest_token: str
) -> None:
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    http(
        stack,
        "GET",
        "/v1/models",
        headers={"traceparent": f"00-{trace_id}-{parent_id}-01", "authorization": f"Bearer {guest_token}"},
    )
    server_kind = 2  # opentelemetry.proto.trace.v1.Span.SPAN_KIND_SERVER
    spans = otlp.wait_for(lambda s: s.trace_id == trace_id and s.service == "jan-chat" and s.kind == server_kind)
    assert spans, "the chat service exported no span in the caller's trace"
    assert spans[0].parent_span_id == parent_id
    checks = otlp.wait_for(lambda s: s.trace_id == trace_id and s.service == "jan-auth" and s.kind == server_kind)
    assert checks, "auth's ext_authz check exported no span in the caller's trace"
    assert checks[0].parent_span_id == parent_id


async def test_native_grpc_errors_keep_their_status(edge_channel: grpc.aio.Channel, guest_metadata) -> None:
    stub = chat_service_pb2_grpc.ChatServiceStub(edge_channel)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetModel(
            chat_service_pb2.GetModelRequest(model="no-such-model"), metadata=guest_metadata, timeout=10
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as unauthenticated:
        await stub.ListModels(chat_service_pb2.ListModelsRequest(), timeout=10)
    assert unauthenticated.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_missing_credentials_is_an_openai_401(stack: Stack) -> None:
    status, headers, body = http(stack, "GET", "/v1/models")
    assert status == 401 and headers["content-type"] == "application/json"
    assert_openai_error(body, "authentication_error")
