"""The auth service's metrics (services/auth/metrics.py) from its composition root in this process: ext_authz
decisions by outcome through the HTTP endpoint Envoy asks and the gRPC Check alike, the HTTP endpoint's decision
time, and requests over the guests' rate limit counted as limit refusals; failed sign-ins over their limit carry
the limit's name for the gRPC wrapper to count."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest

from services.auth.authz_http import AuthzHttpServer
from services.auth.server import AuthApp
from services.common import errors
from services.common.metrics import ServiceMetrics
from tests.auth.conftest import fast_passwords, make_settings, unique_email
from tests.auth.test_authz import check_request


@pytest.fixture
async def measured(database_url: str) -> AsyncIterator[tuple[AuthApp, ServiceMetrics]]:
    metrics = ServiceMetrics()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=5)
    settings = make_settings(database_url, JAN_GUEST_REQUESTS_PER_MINUTE=2, JAN_LOGIN_MAX_FAILURES=1)
    app = await AuthApp.create(settings, pool, fast_passwords(), metrics=metrics)
    await app.start()
    try:
        yield app, metrics
    finally:
        await app.stop()
        await pool.close()


def decisions(metrics: ServiceMetrics, outcome: str) -> float:
    return metrics.registry.get_sample_value("jan_auth_ext_authz_decisions_total", {"outcome": outcome}) or 0.0


async def test_grpc_check_decisions_and_the_guests_rate_limit(measured) -> None:
    app, metrics = measured
    token = (await app.accounts.guest_login()).access_token
    for _ in range(3):  # two pass, the third is over the guests' 2 a minute
        await app.authorizer.check(check_request("POST", "/v1/chat/completions", token))
    await app.authorizer.check(check_request("POST", "/v1/chat/completions"))
    await app.authorizer.check(check_request("POST", "/v1/auth/guest-login"))
    assert decisions(metrics, "allowed") == 2
    assert decisions(metrics, "rate_limited") == 1
    assert decisions(metrics, "unauthenticated") == 1
    assert decisions(metrics, "anonymous") == 1
    labels = {"limit": "requests_per_minute", "guest": "true"}
    assert metrics.registry.get_sample_value("jan_limit_denials_total", labels) == 1


async def test_http_endpoint_decisions_are_counted_and_timed(measured) -> None:
    app, metrics = measured
    token = (await app.accounts.guest_login()).access_token
    server = AuthzHttpServer(app.authorizer, "127.0.0.1:0", metrics=app.authz_metrics)
    port = await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            for authorization in (f"Bearer {token}", "Bearer nonsense"):
                url = f"http://127.0.0.1:{port}/v1/models"
                async with http.get(url, headers={"authorization": authorization}) as response:
                    assert response.status in (200, 401)
    finally:
        await server.stop()
    assert decisions(metrics, "allowed") == 1
    assert decisions(metrics, "unauthenticated") == 1
    assert metrics.registry.get_sample_value("jan_auth_ext_authz_seconds_count", {}) == 2


async def test_failed_sign_ins_over_their_limit_name_it(measured) -> None:
    app, _ = measured
    email = unique_email()
    with pytest.raises(errors.Unauthenticated):
        await app.accounts.login(email, "wrong password 1")
    with pytest.raises(errors.ResourceExhausted) as refused:
        await app.accounts.login(email, "wrong password 2")
    assert refused.value.over_limit == "login_failures"
