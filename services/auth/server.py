"""Starts the auth service: settings, logging, tracing, database and migrations, then the gRPC server."""

from __future__ import annotations

import asyncio
from pathlib import Path

from envoy.service.auth.v3 import external_auth_pb2_grpc

from jan.v1 import auth_service_pb2_grpc
from services.auth.authz_servicer import AuthorizationServicer
from services.auth.servicer import AuthServicer
from services.auth.settings import AuthSettings
from services.common.db import apply_migrations, create_pool
from services.common.logs import configure_logging
from services.common.server import JanServer
from services.common.tracing import configure_tracing

SERVICE = "jan-auth"
MIGRATIONS = Path(__file__).parent / "migrations"


async def serve(settings: AuthSettings) -> None:
    pool = await create_pool(settings.database)
    try:
        await apply_migrations(pool, "auth", MIGRATIONS)
        server = JanServer(settings)
        server.add_service(
            auth_service_pb2_grpc.add_AuthServiceServicer_to_server, AuthServicer(), "jan.v1.AuthService"
        )
        server.add_service(
            external_auth_pb2_grpc.add_AuthorizationServicer_to_server,
            AuthorizationServicer(),
            "envoy.service.auth.v3.Authorization",
        )
        await server.start()
        await server.serve_until_stopped()
    finally:
        await pool.close()


def main() -> None:
    settings = AuthSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    configure_tracing(SERVICE, settings.otlp_endpoint)
    asyncio.run(serve(settings))
