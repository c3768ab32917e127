"""What ext_authz's Check costs on a warm path, for a session JWT and for an API key.

    .venv/bin/python -m bench.authz_check [--calls 20000] [--grpc-calls 3000]

Uses DATABASE_URL (a scratch database) if set, else starts an embedded PostgreSQL in a temporary folder.
Prints one JSON object: in-process Check latency (Authorizer.check, policy + credential + response
proto); the HTTP endpoint Envoy asks (authz_http.py) over loopback with a keep-alive aiohttp client; the
gRPC Check through a real grpc.aio server and stub, and, as the floor for the latter, grpc.health.v1
Check on the same server. Warm means the caches hold the session, user and key.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import grpc
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from google.rpc import code_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devstack.ports import free_port
from devstack.postgres import LocalPostgres
from services.auth.authz_http import AuthzHttpServer
from services.auth.server import AuthApp
from services.auth.settings import AuthSettings, GoogleSettings
from services.common.db import create_pool
from services.common.identity import Caller
from services.common.server import JanServer
from services.common.settings import DatabaseSettings, ServerSettings

OWNER = "bench-owner@example.com"


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {
        "p50_us": round(statistics.median(ordered) * 1e6, 1),
        "p99_us": round(pick(0.99) * 1e6, 1),
        "mean_us": round(statistics.fmean(ordered) * 1e6, 1),
    }


async def timed(calls: int, call: Callable[[], Awaitable[object]]) -> dict[str, float]:
    for _ in range(min(500, calls)):  # warm-up
        await call()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return summary(samples)


def check_request(method: str, path: str, token: str) -> external_auth_pb2.CheckRequest:
    request = external_auth_pb2.CheckRequest()
    http = request.attributes.request.http
    http.method, http.path = method, path
    http.headers.update(
        {
            "authorization": f"Bearer {token}",
            "content-type": "application/json",
            "user-agent": "bench",
            "x-request-id": "bench",
        }
    )
    return request


async def run(database_url: str, calls: int, grpc_calls: int) -> dict[str, object]:
    bootstrap_token = secrets.token_urlsafe(32)
    settings = AuthSettings(
        database=DatabaseSettings(DATABASE_URL=database_url),
        google=GoogleSettings(),
        JAN_JWT_SECRET=secrets.token_urlsafe(32),
        JAN_APIKEY_SECRET=secrets.token_urlsafe(32),
        JAN_IDENTITY_SECRET=secrets.token_urlsafe(32),
        JAN_BOOTSTRAP_TOKEN=bootstrap_token,
        JAN_LOG_LEVEL="WARNING",
    )
    pool = await create_pool(settings.database)  # the auth service's own pool
    app = await AuthApp.create(settings, pool)
    await app.start()
    server = JanServer(ServerSettings(listen_address="127.0.0.1:0", shutdown_grace_seconds=0))
    try:
        session = await app.accounts.register(OWNER, secrets.token_urlsafe(16), "bench", Caller())
        registered = (await app.authenticator.authenticate(session.access_token)).caller()
        await app.bootstrap.redeem(registered, bootstrap_token)  # the organization's first owner
        owner = (await app.authenticator.authenticate(session.access_token)).caller()
        project = await app.organization.create_project(owner, "bench")
        key = await app.api_keys.create_project_key(owner, project.id, "bench", None)
        cases = {
            "jwt": check_request("GET", "/v1/models", session.access_token),
            "api_key": check_request("POST", "/v1/chat/completions", key.value or ""),
        }
        for request in cases.values():
            assert (await app.authorizer.check(request)).status.code == code_pb2.OK

        results: dict[str, object] = {"calls_in_process": calls, "calls_grpc": grpc_calls}
        for name, request in cases.items():
            results[f"in_process_{name}"] = await timed(calls, lambda r=request: app.authorizer.check(r))

        authz_http = AuthzHttpServer(app.authorizer, "127.0.0.1:0")
        http_port = await authz_http.start()
        try:
            async with aiohttp.ClientSession() as client:
                for name, request in cases.items():
                    http = request.attributes.request.http
                    url = f"http://127.0.0.1:{http_port}{http.path}"
                    headers = dict(http.headers)

                    async def ask(method: str = http.method, url: str = url, headers: dict = headers) -> None:
                        async with client.request(method, url, headers=headers) as response:
                            await response.read()
                            assert response.status == 200

                    results[f"http_{name}"] = await timed(grpc_calls, ask)
        finally:
            await authz_http.stop()

        app.register(server)
        port = await server.start()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().remove_signal_handler(sig)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            authz = external_auth_pb2_grpc.AuthorizationStub(channel)
            health = health_pb2_grpc.HealthStub(channel)
            for name, request in cases.items():
                results[f"grpc_{name}"] = await timed(grpc_calls, lambda r=request: authz.Check(r))
            results["grpc_health_check_floor"] = await timed(
                grpc_calls, lambda: health.Check(health_pb2.HealthCheckRequest())
            )
        await app.key_last_used.flush()
        return results
    finally:
        await server.stop()
        await app.stop()
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--grpc-calls", type=int, default=3000)
    args = parser.parse_args()
    external = os.environ.get("DATABASE_URL")
    if external:
        print(json.dumps(asyncio.run(run(external, args.calls, args.grpc_calls)), indent=2))
        return
    with tempfile.TemporaryDirectory(prefix="authz-bench-") as tmp:
        postgres = LocalPostgres(Path(tmp) / "pgdata", free_port(), durable=False)
        postgres.start()
        try:
            url = postgres.create_database("authz_bench")
            print(json.dumps(asyncio.run(run(url, args.calls, args.grpc_calls)), indent=2))
        finally:
            postgres.stop()


if __name__ == "__main__":
    main()
