"""The answers to Envoy's ext_authz checks: allowed (the signed identity headers) or denied (status, headers and
reason), for the gRPC Check (authz.py) and the HTTP endpoint (authz_http.py). Pure functions.
"""

from __future__ import annotations

from collections.abc import Mapping

from envoy.config.core.v3 import base_pb2
from envoy.service.auth.v3 import external_auth_pb2
from envoy.type.v3 import http_status_pb2
from google.rpc import code_pb2, status_pb2

from services.auth.rate_limit import RateLimited
from services.common import errors
from services.common.identity import IDENTITY_HEADERS, Caller, sign_identity

_OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
# What a check can answer besides "go on"; its HTTP status and gRPC code are the error kind's own.
_DENIAL_KINDS = frozenset(
    {errors.UNAUTHENTICATED, errors.PERMISSION_DENIED, errors.RESOURCE_EXHAUSTED, errors.UNAVAILABLE}
)


def is_grpc(content_type: str | None) -> bool:
    return content_type is not None and content_type.startswith("application/grpc")


GRPC_CALLER_HEADER = "x-jan-grpc-caller"  # edge.lua sets it on native gRPC requests (Envoy does not send content-type)


def grpc_caller(headers: Mapping[str, str]) -> bool:
    """Whether the checked request came from a native gRPC client."""
    return headers.get(GRPC_CALLER_HEADER) == "1" or is_grpc(headers.get("content-type"))


def identity_headers(caller: Caller | None, secret: bytes, expires_at: int) -> tuple[dict[str, str], tuple[str, ...]]:
    """The identity headers to set for a caller, signed until `expires_at` (none for an anonymous one), and
    the rest, to remove."""
    values = sign_identity(caller, secret, expires_at) if caller else {}
    return values, tuple(h for h in IDENTITY_HEADERS if h not in values)


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


def check_allowed(values: dict[str, str], removed: tuple[str, ...]) -> external_auth_pb2.CheckResponse:
    """Go on, with these identity headers set and those removed (identity_headers)."""
    ok = external_auth_pb2.OkHttpResponse(
        headers=[
            base_pb2.HeaderValueOption(header=base_pb2.HeaderValue(key=k, value=v), append_action=_OVERWRITE)
            for k, v in values.items()
        ],
        headers_to_remove=removed,
    )
    return external_auth_pb2.CheckResponse(status=status_pb2.Status(code=code_pb2.OK), ok_response=ok)


def check_denied(error: errors.JanError, *, grpc_caller: bool = False) -> external_auth_pb2.CheckResponse:
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
