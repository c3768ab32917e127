"""Requests per minute per caller (rate_limit.py), and how ext_authz answers a caller over the limit:
the gRPC Check and the HTTP endpoint, against a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from google.rpc import code_pb2

from services.auth.authz_http import AuthzHttpServer
from services.auth.rate_limit import RateLimited, RequestRateLimit, guest_accounts_limit, sign_in_limit
from services.auth.server import AuthApp
from services.common import errors
from services.common.identity import Caller
from tests.auth.conftest import PASSWORD, caller_for, start_app, unique_email
from tests.auth.test_authz import check_request, denied, identity


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_the_limit_then_an_even_pace() -> None:
    clock = Clock()
    limit = RequestRateLimit(6, clock=clock)  # one request every 10 s once the burst is spent
    for _ in range(6):
        limit.take("alice")
    with pytest.raises(RateLimited) as raised:
        limit.take("alice")
    assert raised.value.retry_after == 10 and raised.value.code == "rate_limit_exceeded"
    assert "6 requests per minute" in raised.value.message and "try again in 10s" in raised.value.message
    limit.take("bob")  # every caller has a bucket of its own
    clock.now += 9.5
    with pytest.raises(RateLimited) as raised:
        limit.take("alice")
    assert raised.value.retry_after == 1  # 0.5 s, rounded up to whole seconds for retry-after
    clock.now += 0.5
    limit.take("alice")
    with pytest.raises(RateLimited):
        limit.take("alice")
    clock.now += 60
    for _ in range(6):  # a quiet minute refills the whole burst
        limit.take("alice")


def test_guest_accounts_per_address_per_hour() -> None:
    clock = Clock()
    limit = guest_accounts_limit(3, clock=clock)  # then one every 20 minutes
    for _ in range(3):
        limit.take("203.0.113.1")
    with pytest.raises(errors.ResourceExhausted) as raised:
        limit.take("203.0.113.1")
    assert raised.value.retry_after == 1200 and raised.value.code == "rate_limit_exceeded"
    assert "3 per hour" in raised.value.message and "Sign up" in raised.value.message
    assert raised.value.over_limit == "guest_accounts_per_hour" and raised.value.guest_limit
    limit.take("203.0.113.2")  # another address has its own budget
    for _ in range(10):  # a caller that reached auth without Envoy has no address, and no limit
        limit.take(None)
    clock.now += 1200
    limit.take("203.0.113.1")
    with pytest.raises(errors.ResourceExhausted):
        limit.take("203.0.113.1")


def test_sign_in_attempts_per_address_per_minute() -> None:
    clock = Clock()
    limit = sign_in_limit(2, clock=clock)
    limit.take("203.0.113.1")
    limit.take("203.0.113.1")
    with pytest.raises(errors.ResourceExhausted) as raised:
        limit.take("203.0.113.1")
    assert raised.value.retry_after == 30 and "2 per minute" in raised.value.message
    assert raised.value.over_limit == "sign_ins_per_minute" and not raised.value.guest_limit
    clock.now += 30
    limit.take("203.0.113.1")


def test_refused_requests_are_not_counted() -> None:
    clock = Clock()
    limit = RequestRateLimit(60, clock=clock)
    for _ in range(60):
        limit.take("alice")
    for _ in range(100):  # a client hammering while refused does not push its wait further out
        with pytest.raises(RateLimited):
            limit.take("alice")
    clock.now += 1
    limit.take("alice")


def test_memory_is_bounded_by_the_callers_of_the_last_minute() -> None:
    clock = Clock()
    limit = RequestRateLimit(10, clock=clock, max_callers=100)
    for i in range(100):
        limit.take(f"old-{i}")
    clock.now += 61  # their buckets are full again: the same as never seen
    for i in range(50):
        limit.take(f"new-{i}")
    assert len(limit._buckets._full_at) == 50
    with pytest.raises(ValueError):
        RequestRateLimit(0)


@pytest.fixture
async def limited_app(database_url: str) -> AsyncIterator[AuthApp]:
    app, pool = await start_app(database_url, JAN_RATE_LIMIT_REQUESTS_PER_MINUTE="3")
    try:
        yield app
    finally:
        await app.stop()
        await pool.close()


async def test_the_check_refuses_a_user_over_the_limit_and_no_one_else(limited_app: AuthApp) -> None:
    alice = await limited_app.accounts.register(unique_email("alice"), PASSWORD, "", Caller())
    bob = await limited_app.accounts.register(unique_email("bob"), PASSWORD, "", Caller())
    for _ in range(3):
        identity(await limited_app.authorizer.check(check_request("GET", "/v1/models", alice.access_token)))
    response = await limited_app.authorizer.check(check_request("POST", "/v1/chat/completions", alice.access_token))
    assert response.status.code == code_pb2.RESOURCE_EXHAUSTED
    status, body = denied(response)
    assert status == 429 and "3 requests per minute" in body
    headers = {h.header.key: h.header.value for h in response.denied_response.headers}
    wait = headers["retry-after"]  # 20 s (one request's share of the minute), less the time the test took
    assert 15 <= int(wait) <= 20
    assert headers == {
        "retry-after": wait,
        "x-ratelimit-limit-requests": "3",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": f"{wait}s",
    }
    grpc_call = check_request(
        "POST", "/jan.v1.ChatService/ListModels", alice.access_token, content_type="application/grpc"
    )
    response = await limited_app.authorizer.check(grpc_call)
    assert {h.header.key: h.header.value for h in response.denied_response.headers}["grpc-status"] == "8"
    identity(await limited_app.authorizer.check(check_request("GET", "/v1/models", bob.access_token)))
    # Public routes are not counted, so a caller over the limit can still sign out or refresh.
    identity(await limited_app.authorizer.check(check_request("POST", "/v1/auth/logout", alice.access_token)))


async def test_the_http_endpoint_answers_429_with_retry_after(limited_app: AuthApp) -> None:
    session = await limited_app.accounts.register(unique_email(), PASSWORD, "", Caller())
    server = AuthzHttpServer(limited_app.authorizer, "127.0.0.1:0")
    port = await server.start()
    try:
        async with aiohttp.ClientSession(headers={"authorization": f"Bearer {session.access_token}"}) as http:
            statuses = []
            for _ in range(4):
                async with http.get(f"http://127.0.0.1:{port}/v1/models") as response:
                    statuses.append(response.status)
                    text, headers = await response.text(), response.headers
            grpc_call = {"content-type": "application/grpc+proto"}
            async with http.post(f"http://127.0.0.1:{port}/jan.v1.ChatService/ListModels", headers=grpc_call) as r:
                assert r.status == 429 and r.headers["grpc-status"] == "8"  # RESOURCE_EXHAUSTED
    finally:
        await server.stop()
    assert statuses == [200, 200, 200, 429]
    wait = int(headers["retry-after"])
    assert 15 <= wait <= 20 and headers["x-ratelimit-limit-requests"] == "3"
    assert "www-authenticate" not in headers and "grpc-status" not in headers and f"try again in {wait}s" in text


@pytest.fixture
async def guest_limited_app(database_url: str) -> AsyncIterator[AuthApp]:
    app, pool = await start_app(database_url, JAN_GUEST_REQUESTS_PER_MINUTE="2")
    try:
        yield app
    finally:
        await app.stop()
        await pool.close()


async def test_guests_have_a_limit_of_their_own_which_signing_up_lifts(guest_limited_app: AuthApp) -> None:
    app = guest_limited_app
    guest = await app.accounts.guest_login()
    user = await app.accounts.register(unique_email(), PASSWORD, "", Caller())
    for _ in range(2):
        assert identity(await app.authorizer.check(check_request("GET", "/v1/models", guest.access_token)))
    status, body = denied(await app.authorizer.check(check_request("GET", "/v1/models", guest.access_token)))
    assert status == 429 and "2 requests per minute for guest accounts (sign up to lift it)" in body
    for _ in range(5):  # registered users are not counted by it (JAN_RATE_LIMIT_REQUESTS_PER_MINUTE is off)
        identity(await app.authorizer.check(check_request("GET", "/v1/models", user.access_token)))
    # Signing up is a public route, never refused; the account it upgrades is no guest any more.
    upgrade = check_request("POST", "/v1/auth/register", guest.access_token)
    assert identity(await app.authorizer.check(upgrade))["x-jan-guest"] == "1"
    registered = await app.accounts.register(unique_email(), PASSWORD, "", await caller_for(app, guest.access_token))
    for _ in range(3):
        headers = identity(await app.authorizer.check(check_request("GET", "/v1/models", registered.access_token)))
        assert headers["x-jan-user-id"] == guest.user.id and "x-jan-guest" not in headers


def test_the_guest_limit_is_on_by_default() -> None:
    from services.auth.settings import AuthSettings

    assert AuthSettings.model_fields["guest_requests_per_minute"].default == 30
