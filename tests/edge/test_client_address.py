"""The client's address as the services see it, through the real Envoy on a stack of its own (the instant
engine) behind one trusted proxy (JAN_TRUSTED_PROXY_HOPS=1), with a small limit of guest accounts per address:
the address is the one the proxy appended to X-Forwarded-For, never what the client wrote before it; each
address has its own budget of guest accounts and of sign-in attempts, refused past it in OpenAI's error shape
(REST) and as RESOURCE_EXHAUSTED (native gRPC). The shared stack (no trusted proxy) ignores X-Forwarded-For altogether:
tests/auth/test_edge_audit_log.py."""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc
import openai
import pytest

from devstack.stack import Stack
from jan.v1 import sign_in_service_pb2 as pb
from jan.v1 import sign_in_service_pb2_grpc
from services.common.errors import ERROR_METADATA_KEY
from tests.auth.conftest import Owner, Rest, unique_email
from tests.support.openai_spec import assert_error
from tests.support.private_stack import instant_stack

GUESTS_PER_HOUR = 3
SIGN_INS_PER_MINUTE = 3


@pytest.fixture(scope="module")
def proxied_stack(tmp_path_factory, database_factory, stack_env: dict[str, str]) -> Iterator[Stack]:
    env = {
        **stack_env,
        "JAN_TRUSTED_PROXY_HOPS": "1",
        "JAN_GUEST_ACCOUNTS_PER_IP_PER_HOUR": str(GUESTS_PER_HOUR),
        "JAN_SIGN_INS_PER_IP_PER_MINUTE": str(SIGN_INS_PER_MINUTE),
    }
    run_dir = tmp_path_factory.mktemp("client-address-stack")
    with instant_stack(run_dir, database_factory("jan_client_address"), env) as stack:
        yield stack


@pytest.fixture(scope="module")
def rest(proxied_stack: Stack) -> Rest:
    return Rest(proxied_stack)


@pytest.fixture(scope="module")
def admin(proxied_stack: Stack, rest: Rest) -> openai.OpenAI:
    """The SDK's admin client as this stack's owner (the audit log; the owner signs up from the peer address)."""
    key = Owner(rest).admin_key
    return openai.OpenAI(base_url=f"{proxied_stack.http_url}/v1", api_key="unused", admin_api_key=key, max_retries=0)


def via_proxy(client_says: str, proxy_saw: str) -> dict[str, str]:
    """What our trusted proxy forwards: the client's own X-Forwarded-For, then the peer it saw."""
    return {"x-forwarded-for": f"{client_says}, {proxy_saw}"}


def test_guest_accounts_are_limited_per_address_the_proxy_saw(rest: Rest) -> None:
    for i in range(GUESTS_PER_HOUR):  # a client varying what it writes itself gains nothing
        made = rest("POST", "/v1/auth/guest-login", {}, headers=via_proxy(f"10.9.9.{i}", "203.0.113.10"))
        assert made.status == 200, made.body
    refused = rest("POST", "/v1/auth/guest-login", {}, headers=via_proxy("10.9.9.99", "203.0.113.10"))
    assert refused.status == 429 and 0 < int(refused.headers["retry-after"]) <= 3600 / GUESTS_PER_HOUR
    assert_error(refused.json())
    error = refused.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and error["type"] == "rate_limit_error"
    assert f"{GUESTS_PER_HOUR} per hour" in error["message"] and "Sign up" in error["message"]
    other = rest("POST", "/v1/auth/guest-login", {}, headers=via_proxy("10.9.9.0", "203.0.113.11"))
    assert other.status == 200, other.body  # another address has its own budget


async def test_native_grpc_guest_logins_are_limited_the_same_way(proxied_stack: Stack) -> None:
    metadata = (("x-forwarded-for", "203.0.113.20"),)
    async with grpc.aio.insecure_channel(proxied_stack.grpc_target) as channel:
        stub = sign_in_service_pb2_grpc.SignInServiceStub(channel)
        for _ in range(GUESTS_PER_HOUR):
            assert (await stub.GuestLogin(pb.GuestLoginRequest(), metadata=metadata)).access_token
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GuestLogin(pb.GuestLoginRequest(), metadata=metadata)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    error = json.loads(dict(refused.value.trailing_metadata())[ERROR_METADATA_KEY])["error"]
    assert error["code"] == "rate_limit_exceeded"


def test_the_audit_log_records_the_address_the_proxy_saw(admin: openai.OpenAI, rest: Rest) -> None:
    email = unique_email("proxied")
    failed = rest(
        "POST", "/v1/auth/login", {"email": email, "password": "x" * 12}, headers=via_proxy("1.2.3.4", "198.51.100.7")
    )
    assert failed.status == 401  # its audit event is written before the answer
    (event,) = admin.admin.organization.audit_logs.list(actor_emails=[email])
    assert event.type == "login.failed" and event.actor.session.ip_address == "198.51.100.7"


def test_sign_in_attempts_are_limited_per_address_before_anything_is_checked(admin: openai.OpenAI, rest: Rest) -> None:
    email = unique_email("guesser")
    wrong = {"email": email, "password": "x" * 12}
    for _ in range(SIGN_INS_PER_MINUTE):
        assert rest("POST", "/v1/auth/login", wrong, headers=via_proxy("10.0.0.1", "203.0.113.30")).status == 401
    refused = rest("POST", "/v1/auth/login", wrong, headers=via_proxy("10.0.0.1", "203.0.113.30"))
    assert refused.status == 429 and 0 < int(refused.headers["retry-after"]) <= 60 / SIGN_INS_PER_MINUTE
    assert_error(refused.json())
    assert f"{SIGN_INS_PER_MINUTE} per minute" in refused.json()["error"]["message"]
    assert rest("POST", "/v1/auth/login", wrong, headers=via_proxy("10.0.0.1", "203.0.113.31")).status == 401
    events = list(admin.admin.organization.audit_logs.list(actor_emails=[email], event_types=["login.failed"]))
    assert len(events) == SIGN_INS_PER_MINUTE + 1  # the refused attempt wrote none
