"""Starts the auth service: settings, logging, tracing, database and migrations, then the gRPC server and
the HTTP endpoint Envoy's ext_authz asks (authz_http.py).

`AuthApp` wires the parts (also used by the tests and the benchmark): one store over the pool, the
invalidation listener, the caches and the domain objects, the servicers of jan.v1.SignInService,
jan.v1.OrganizationService, jan.v1.ProjectControlsService and ext_authz.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
from envoy.service.auth.v3 import external_auth_pb2_grpc

from jan.v1 import (
    organization_service_pb2,
    organization_service_pb2_grpc,
    project_controls_service_pb2,
    project_controls_service_pb2_grpc,
    sign_in_service_pb2,
    sign_in_service_pb2_grpc,
)
from services.auth.accounts import Accounts, LoginLimit
from services.auth.admin_servicer import OrganizationServicer
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
from services.auth.project_controls import ProjectControlsAdmin, ServedModels
from services.auth.project_controls_servicer import ProjectControlsServicer
from services.auth.rate_limit import GUEST_NOTE, RequestRateLimit, guest_accounts_limit, sign_in_limit
from services.auth.routes import RouteTable
from services.auth.served_models import InferenceModels
from services.auth.servicer import CookiePolicy, SignInServicer
from services.auth.settings import AuthSettings
from services.auth.store import Store
from services.auth.tokens import AccessTokens, ApiKeySecrets
from services.common.channels import insecure_channel
from services.common.db import apply_migrations, create_pool
from services.common.logs import configure_logging
from services.common.metrics import ServiceMetrics, metrics_for
from services.common.server import JanServer, freeze_startup_heap, run
from services.common.tracing import configure_tracing

SERVICE = "jan-auth"
SIGN_IN_SERVICE = sign_in_service_pb2.DESCRIPTOR.services_by_name["SignInService"].full_name
ORGANIZATION_SERVICE = organization_service_pb2.DESCRIPTOR.services_by_name["OrganizationService"].full_name
PROJECT_CONTROLS_SERVICE = project_controls_service_pb2.DESCRIPTOR.services_by_name["ProjectControlsService"].full_name
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
        self.hub = Invalidations()
        self.store = Store(pool, self.hub.publish)  # its committed invalidations reach this replica's caches
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
            org_id,
            s.admin_emails,
            s.refresh_token_ttl_seconds,
            LoginLimit(s.login_max_failures, s.login_failure_window_seconds),
            guest_accounts_limit(s.guest_accounts_per_ip_per_hour) if s.guest_accounts_per_ip_per_hour else None,
            sign_in_limit(s.sign_ins_per_ip_per_minute) if s.sign_ins_per_ip_per_minute else None,
        )
        self.google = GoogleSignIn(s.google, self.store, self.accounts)
        self.bootstrap = OwnerBootstrap(self.store, org_id)
        self.organization = Organization(self.store, org_id, s.invite_ttl_seconds)
        self.api_keys = ApiKeys(self.store, self.key_secrets, org_id)
        cookies = CookiePolicy(s.cookie_secure, s.cookie_domain, s.cookie_samesite)
        self.sign_in_servicer = SignInServicer(
            self.accounts, self.google, self.organization, cookies, self.bootstrap, s.identity_key
        )
        self.organization_servicer = OrganizationServicer(self.organization, self.api_keys, s.identity_key)
        self._inference_channel = insecure_channel(s.inference_target, s.max_message_bytes, traced=s.tracing)
        served_models = ServedModels(InferenceModels(self._inference_channel).ids)
        self.project_controls = ProjectControlsAdmin(self.store, org_id, served_models)
        self.project_controls_servicer = ProjectControlsServicer(self.project_controls, s.identity_key)
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
        await self._inference_channel.close()

    def register(self, server: JanServer) -> None:
        server.add_service(
            sign_in_service_pb2_grpc.add_SignInServiceServicer_to_server, self.sign_in_servicer, SIGN_IN_SERVICE
        )
        server.add_service(
            organization_service_pb2_grpc.add_OrganizationServiceServicer_to_server,
            self.organization_servicer,
            ORGANIZATION_SERVICE,
        )
        server.add_service(
            project_controls_service_pb2_grpc.add_ProjectControlsServiceServicer_to_server,
            self.project_controls_servicer,
            PROJECT_CONTROLS_SERVICE,
        )
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
            freeze_startup_heap()  # built: before either endpoint takes calls, so the collection delays none
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
