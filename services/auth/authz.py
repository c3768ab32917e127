"""Envoy's ext_authz decision, answered by the auth service for every request Envoy receives.

The request's method and path (REST before transcoding, or /jan.v1.X/Y for native gRPC) give the RPC and
its access level (policy.py); the bearer credential gives the principal (authn.py). Allowed requests go
on with the identity headers set and signed (services.common.identity; every one of them overwritten or
removed, so nothing a client sent survives), unless the caller is over its request rate (rate_limit.py;
guests have one of their own); denied ones get 401, 403 or 429 with a one-line plain-text reason, which
Envoy's local reply config wraps into OpenAI's error JSON (native gRPC callers see UNAUTHENTICATED /
PERMISSION_DENIED / RESOURCE_EXHAUSTED).
Credentials are never logged.

Envoy asks over HTTP (authz_http.py) or gRPC (authz_servicer.py); both call the same `Authorizer`, and
authz_answers.py builds the answers.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from envoy.service.auth.v3 import external_auth_pb2

from services.auth import authz_answers
from services.auth.authn import Authenticator, Principal
from services.auth.metrics import AuthzMetrics
from services.auth.policy import Access, Policy
from services.auth.rate_limit import RequestRateLimit
from services.common import errors
from services.common.identity import Caller, signature_expiry

MISSING_CREDENTIAL = "Missing bearer authentication in header"


def bearer_credential(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None


class Authorizer:
    """The decision itself, without gRPC, so it can be tested and benchmarked in-process."""

    def __init__(
        self,
        policy: Policy,
        authenticator: Authenticator,
        identity_secret: bytes,
        rate_limit: RequestRateLimit | None = None,
        guest_rate_limit: RequestRateLimit | None = None,
        *,
        clock: Callable[[], float] = time.time,
        metrics: AuthzMetrics | None = None,
    ) -> None:
        self._policy = policy
        self._authn = authenticator
        self._identity_secret = identity_secret
        self._rate_limit = rate_limit
        self._guest_rate_limit = guest_rate_limit  # for guest accounts, on top of rate_limit
        self._clock = clock
        self._metrics = metrics  # counts the gRPC Check's decisions (the HTTP endpoint counts its own)
        # The same identity gets the same (immutable) answer until its signature's expiry moves on (every
        # 30 s): each is built and signed once.
        self._signed = functools.lru_cache(maxsize=10_000)(self._sign)
        self._check_allowed = functools.lru_cache(maxsize=10_000)(self._build_check_allowed)

    def identity_headers(self, caller: Caller | None) -> tuple[dict[str, str], tuple[str, ...]]:
        """The signed identity headers to set for a caller (none for an anonymous one), and the rest, to
        remove. Shared answers: do not modify them."""
        return self._signed(caller, signature_expiry(self._clock()))

    def _sign(self, caller: Caller | None, expires_at: int) -> tuple[dict[str, str], tuple[str, ...]]:
        return authz_answers.identity_headers(caller, self._identity_secret, expires_at)

    def _build_check_allowed(self, caller: Caller | None, expires_at: int) -> external_auth_pb2.CheckResponse:
        return authz_answers.check_allowed(*self._signed(caller, expires_at))

    async def decide(self, method: str, path: str, authorization: str | None, project: str | None) -> Principal | None:
        """Who is calling, or None for an anonymous call of a public route; raises JanError to deny."""
        _, access = self._policy.resolve(method, path)
        credential = bearer_credential(authorization)
        if credential is None:
            if access is Access.PUBLIC:
                return None
            raise errors.Unauthenticated(MISSING_CREDENTIAL)
        try:
            principal = await self._authn.authenticate(credential, project or None)
            self._policy.authorize(access, principal)
        except errors.JanError:
            if access is Access.PUBLIC:  # e.g. signing in again with an expired token: go on anonymously
                return None
            raise
        if access is not Access.PUBLIC:  # signing in, up or out is never refused
            if principal.guest and self._guest_rate_limit is not None:
                self._guest_rate_limit.take(principal.user_id)
            if self._rate_limit is not None:
                self._rate_limit.take(principal.user_id)
        return principal

    async def check(self, request: external_auth_pb2.CheckRequest) -> external_auth_pb2.CheckResponse:
        """The decision for Envoy's gRPC CheckRequest, as its CheckResponse."""
        http = request.attributes.request.http
        headers = http.headers
        try:
            principal = await self.decide(
                http.method, http.path, headers.get("authorization"), headers.get("openai-project")
            )
        except errors.JanError as exc:
            if self._metrics is not None:
                self._metrics.denied(exc)
            return authz_answers.check_denied(exc, grpc_caller=authz_answers.grpc_caller(headers))
        if self._metrics is not None:
            self._metrics.allowed(principal is None)
        return self._check_allowed(principal.caller() if principal else None, signature_expiry(self._clock()))
