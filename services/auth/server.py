"""Starts the auth service: settings, logging, tracing, database and migrations, then the gRPC server and
the HTTP endpoint Envoy's ext_authz asks (authz_http.py).

`AuthApp` wires the parts (also used by the tests and the benchmark): one store over the pool, the
invalidation listener, the caches and the domain objects, the AuthService and ext_authz servicers.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
from envoy.service.auth.v3 import external_auth_pb2_grpc

from jan.v1 import auth_service_pb2_grpc
from services.auth.accounts import Accounts, LoginLimit
from services.auth.apikeys import ApiKeys
from services.auth.authn import Authenticator
from services.auth.authz import Authorizer
from services.auth.authz_http import AuthzHttpServer
from services.auth.authz_servicer import AuthorizationServicer
from services.auth.bootstrap import OwnerBootstrap
from services.auth.cache import Invalidations
from services.auth.google_oauth import GoogleSignIn
from services.auth.key_last_used import KeyLastUsed
from services.auth.metrics import AuthzMetrics
from services.auth.organization import Organization
from services.auth.passwords import Passwords
from services.auth.policy import Access, Policy
from services.auth.rate_limit import GUEST_NOTE, RequestRateLimit
from services.auth.routes import RouteTable
from services.auth.servicer import AuthServicer, CookiePolicy
from services.auth.settings import AuthSettings
from services.auth.store import Store
from services.auth.tokens import AccessTokens, ApiKeySecrets
from services.common.db import apply_migrations, create_pool
from services.common.logs import configure_logging
from services.common.metrics import ServiceMetrics, metrics_for
from services.common.server import JanServer, run
from services.common.tracing import configure_tracing

SERVICE = "jan-auth"
MIGRATIONS = Path(__file__).parent / "migrations"


class AuthApp:
    def __init__(
        self,
        settings: AuthSettings,
        pool: asyncpg.Pool,
        org_id: str,
        passwords: Passwords | None = None,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        s = settings
        self.authz_metrics = AuthzMetrics(metrics) if metrics is not None else None
        self.store = Store(pool)
        self.hub = Invalidations()
        self.access_tokens = AccessTokens(s.jwt_secret.get_secret_value(), s.jwt_issuer, s.access_token_ttl_seconds)
        self.key_secrets = ApiKeySecrets(s.apikey_secret.get_secret_value())
        self.key_last_used = KeyLastUsed(self.store, s.apikey_last_used_flush_seconds)
        self.authenticator = Authenticator(
            self.store,
            self.access_tokens,
            self.key_secrets,
            org_id,
            self.hub,
            self.key_last_used,
            s.authz_cache_ttl_seconds,
            s.authz_cache_max_entries,
        )
        rate_limit = RequestRateLimit(s.rate_limit_requests_per_minute) if s.rate_limit_requests_per_minute else None
        guest_limit = (
            RequestRateLimit(s.guest_requests_per_minute, note=GUEST_NOTE, guest=True)
            if s.guest_requests_per_minute
            else None
        )
        internal = Access.API if s.internal_services_access == "api" else Access.INTERNAL
        policy = Policy(RouteTable(), internal=internal)
        self.authorizer = Authorizer(
            policy, self.authenticator, s.identity_key, rate_limit, guest_limit, metrics=self.authz_metrics
        )
        self.accounts = Accounts(
            self.store,
            self.access_tokens,
            passwords or Passwords(),
            self.hub,
            org_id,
            s.admin_emails,
            s.refresh_token_ttl_seconds,
            LoginLimit(s.login_max_failures, s.login_failure_window_seconds),
        )
        self.google = GoogleSignIn(s.google, self.store, self.accounts)
        self.bootstrap = OwnerBootstrap(self.store, self.hub, org_id)
        self.organization = Organization(self.store, self.hub, org_id, s.invite_ttl_seconds)
        self.api_keys = ApiKeys(self.store, self.hub, self.key_secrets, org_id)
        cookies = CookiePolicy(s.cookie_secure, s.cookie_domain, s.cookie_samesite)
        self.servicer = AuthServicer(
            self.accounts, self.google, self.organization, self.api_keys, cookies, self.bootstrap, s.identity_key
        )
        self.authz_servicer = AuthorizationServicer(self.authorizer)
        self._dsn = s.database.url
        self.printed_bootstrap_token: str | None = None  # one create() made (and logged), for the tests

    @classmethod
    async def create(
        cls,
        settings: AuthSettings,
        pool: asyncpg.Pool,
        passwords: Passwords | None = None,
        metrics: ServiceMetrics | None = None,
    ) -> AuthApp:
        """Migrates, wires, and (while the organization has no owner) prepares the bootstrap token."""
        await apply_migrations(pool, "auth", MIGRATIONS)
        app = cls(settings, pool, await Store(pool).org_id(), passwords, metrics)
        configured = settings.bootstrap_token.get_secret_value() if settings.bootstrap_token else None
        app.printed_bootstrap_token = await app.bootstrap.prepare(configured)
        return app

    async def start(self) -> None:
        await self.hub.listen(self._dsn)
        self.key_last_used.start()

    async def stop(self) -> None:
        await self.key_last_used.stop()  # writes the last-used times still pending
        await self.hub.close()

    def register(self, server: JanServer) -> None:
        server.add_service(auth_service_pb2_grpc.add_AuthServiceServicer_to_server, self.servicer, "jan.v1.AuthService")
        server.add_service(
            external_auth_pb2_grpc.add_AuthorizationServicer_to_server,
            self.authz_servicer,
            "envoy.service.auth.v3.Authorization",
        )


async def serve(settings: AuthSettings) -> None:
    pool = await create_pool(settings.database)
    metrics = metrics_for(settings.metrics_listen_address)
    try:
        app = await AuthApp.create(settings, pool, metrics=metrics)
        await app.start()
        try:
            server = JanServer(settings, metrics=metrics)
            app.register(server)
            authz_http = AuthzHttpServer(
                app.authorizer, settings.authz_listen_address, traced=settings.tracing, metrics=app.authz_metrics
            )
            await authz_http.start()  # before the gRPC server reports SERVING
            try:
                await server.start()
                await server.serve_until_stopped()
            finally:
                await authz_http.stop()  # after in-flight calls drained
        finally:
            await app.stop()
    finally:
        await pool.close()


def main() -> None:
    settings = AuthSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    configure_tracing(SERVICE, settings.otlp_endpoint)
    run(serve(settings))
