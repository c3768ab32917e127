"""Envoy's ext_authz Check, answered by the auth service for every request Envoy receives.

The request's method and path (REST before transcoding, or /jan.v1.X/Y for native gRPC) give the RPC and
its access level (policy.py); the bearer credential gives the principal (authn.py). Allowed requests go
on with the identity headers set (every one of them overwritten or removed, so nothing a client sent
survives), unless the caller is over its request rate (rate_limit.py); denied ones get 401, 403 or 429
with a one-line plain-text reason, which Envoy's local reply config wraps into OpenAI's error JSON
(native gRPC callers see UNAUTHENTICATED / PERMISSION_DENIED / RESOURCE_EXHAUSTED).
Credentials are never logged.
"""

from __future__ import annotations

import functools
import logging

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from envoy.type.v3 import http_status_pb2
from google.rpc import code_pb2, status_pb2

from services.auth.authn import Authenticator, Principal
from services.auth.policy import Access, Policy
from services.auth.rate_limit import RateLimited, RequestRateLimit
from services.common import errors
from services.common.identity import IDENTITY_HEADERS, Caller

log = logging.getLogger(__name__)

_OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
# What a check can answer besides "go on"; its HTTP status and gRPC code are the error kind's own.
_DENIAL_KINDS = frozenset(
    {errors.UNAUTHENTICATED, errors.PERMISSION_DENIED, errors.RESOURCE_EXHAUSTED, errors.UNAVAILABLE}
)
MISSING_CREDENTIAL = "Missing bearer authentication in header"


def bearer_credential(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None


def identity_headers(caller: Caller | None) -> tuple[dict[str, str], list[str]]:
    """The identity headers to set for a caller (none for an anonymous one), and the rest, to remove."""
    values = caller.as_headers() if caller else {}
    return values, [h for h in IDENTITY_HEADERS if h not in values]


# The same identity gets the same (immutable) answer: build each one once.
@functools.lru_cache(maxsize=10_000)
def allow(caller: Caller | None) -> external_auth_pb2.CheckResponse:
    values, removed = identity_headers(caller)
    ok = external_auth_pb2.OkHttpResponse(
        headers=[
            base_pb2.HeaderValueOption(header=base_pb2.HeaderValue(key=k, value=v), append_action=_OVERWRITE)
            for k, v in values.items()
        ],
        headers_to_remove=removed,
    )
    return external_auth_pb2.CheckResponse(status=status_pb2.Status(code=code_pb2.OK), ok_response=ok)


def is_grpc(content_type: str | None) -> bool:
    return bool(content_type) and content_type.startswith("application/grpc")


def denial_kind(error: errors.JanError) -> errors.ErrorKind:
    """The kind a denial answers with: the error's own, or UNAUTHENTICATED for any other."""
    return error.kind if error.kind in _DENIAL_KINDS else errors.UNAUTHENTICATED


def denial_headers(error: errors.JanError, *, grpc_caller: bool = False) -> dict[str, str]:
    """What a denial tells the client besides its status: how to authenticate, or when to come back (the
    headers OpenAI's API and SDKs use); for a native gRPC caller also the status code, which Envoy would
    otherwise derive from the HTTP status (429 would become UNAVAILABLE, not RESOURCE_EXHAUSTED)."""
    kind = denial_kind(error)
    headers: dict[str, str] = {}
    if isinstance(error, RateLimited):
        headers = {
            "retry-after": str(error.retry_after),
            "x-ratelimit-limit-requests": str(error.limit),
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": f"{error.retry_after}s",
        }
    elif kind is errors.UNAUTHENTICATED:
        headers = {"www-authenticate": "Bearer"}
    if grpc_caller:
        headers["grpc-status"] = str(code_pb2.Code.Value(kind.grpc_code))
    return headers


def deny(error: errors.JanError, *, grpc_caller: bool = False) -> external_auth_pb2.CheckResponse:
    kind = denial_kind(error)
    headers = [
        base_pb2.HeaderValueOption(header=base_pb2.HeaderValue(key=k, value=v))
        for k, v in denial_headers(error, grpc_caller=grpc_caller).items()
    ]
    return external_auth_pb2.CheckResponse(
        status=status_pb2.Status(code=code_pb2.Code.Value(kind.grpc_code), message=error.message),
        denied_response=external_auth_pb2.DeniedHttpResponse(
            status=http_status_pb2.HttpStatus(code=kind.http_status), headers=headers, body=error.message
        ),
    )


class Authorizer:
    """The decision itself, without gRPC, so it can be tested and benchmarked in-process."""

    def __init__(
        self, policy: Policy, authenticator: Authenticator, rate_limit: RequestRateLimit | None = None
    ) -> None:
        self._policy = policy
        self._authn = authenticator
        self._rate_limit = rate_limit

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
        if self._rate_limit is not None and access is not Access.PUBLIC:  # signing out is never refused
            self._rate_limit.take(principal.user_id)
        return principal

    async def check(self, request: external_auth_pb2.CheckRequest) -> external_auth_pb2.CheckResponse:
        http = request.attributes.request.http
        headers = http.headers
        try:
            principal = await self.decide(
                http.method, http.path, headers.get("authorization"), headers.get("openai-project")
            )
        except errors.JanError as exc:
            return deny(exc, grpc_caller=is_grpc(headers.get("content-type")))
        return allow(principal.caller() if principal else None)


class AuthorizationServicer(external_auth_pb2_grpc.AuthorizationServicer):
    def __init__(self, authorizer: Authorizer) -> None:
        self._authorizer = authorizer

    async def Check(
        self, request: external_auth_pb2.CheckRequest, context: grpc.aio.ServicerContext
    ) -> external_auth_pb2.CheckResponse:
        return await self._authorizer.check(request)
