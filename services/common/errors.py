"""Domain errors shared by every service.

Domain code raises these (it never imports grpc); the common server wrapper (grpc_errors.ErrorMapped) turns them into a
gRPC status plus an OpenAI-shaped error body carried in trailing metadata, which Envoy's Lua step
puts into the REST response. One table maps each kind to its gRPC code, HTTP status and OpenAI type.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

# Trailing-metadata key holding the OpenAI error JSON for REST clients (see envoy/lua/edge.lua).
ERROR_METADATA_KEY = "x-jan-error"
# Seconds until a refused call may pass (ResourceExhausted.retry_after); edge.lua makes it `retry-after`.
RETRY_AFTER_METADATA_KEY = "x-jan-retry-after"
_MAX_MESSAGE_CHARS = 2000
# What one message may take in metadata, in each form it travels in: JSON-escaped (x-jan-error) and
# percent-encoded (grpc-message). A message quoting a client's text (a model name of emoji, say) is cut to
# fit, so the error's metadata always stays far below gRPC's limit (else the caller sees RESOURCE_EXHAUSTED).
_MAX_MESSAGE_WIRE_BYTES = 2048
_MAX_PARAM_CHARS = 256


@dataclass(frozen=True)
class ErrorKind:
    grpc_code: str  # a grpc.StatusCode name; domain code never imports grpc
    http_status: int
    openai_type: str


INVALID_ARGUMENT = ErrorKind("INVALID_ARGUMENT", 400, "invalid_request_error")
NOT_FOUND = ErrorKind("NOT_FOUND", 404, "invalid_request_error")
ALREADY_EXISTS = ErrorKind("ALREADY_EXISTS", 409, "invalid_request_error")
UNAUTHENTICATED = ErrorKind("UNAUTHENTICATED", 401, "authentication_error")
PERMISSION_DENIED = ErrorKind("PERMISSION_DENIED", 403, "permission_error")
FAILED_PRECONDITION = ErrorKind("FAILED_PRECONDITION", 400, "invalid_request_error")
RESOURCE_EXHAUSTED = ErrorKind("RESOURCE_EXHAUSTED", 429, "rate_limit_error")
UNAVAILABLE = ErrorKind("UNAVAILABLE", 503, "service_unavailable_error")
DEADLINE_EXCEEDED = ErrorKind("DEADLINE_EXCEEDED", 504, "timeout_error")
UNIMPLEMENTED = ErrorKind("UNIMPLEMENTED", 501, "not_implemented_error")
INTERNAL = ErrorKind("INTERNAL", 500, "server_error")


class JanError(Exception):
    """An error meant for the caller: its message, param and code are shown to them. `over_limit` names the
    configured limit that refused the request, if one did (and `guest_limit`, whether it was the guests' own),
    for the metrics (jan_limit_denials_total); the caller never sees them."""

    kind: ErrorKind = INTERNAL

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        over_limit: str | None = None,
        guest_limit: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = clip_message(message)
        self.param = param[:_MAX_PARAM_CHARS] if param else param
        self.code = code
        self.over_limit = over_limit
        self.guest_limit = guest_limit

    def openai_body(self) -> dict:
        return openai_error_body(self.message, self.kind.openai_type, self.param, self.code)


class InvalidArgument(JanError):
    kind = INVALID_ARGUMENT


class NotFound(JanError):
    kind = NOT_FOUND


class AlreadyExists(JanError):
    kind = ALREADY_EXISTS


class Unauthenticated(JanError):
    kind = UNAUTHENTICATED


class PermissionDenied(JanError):
    kind = PERMISSION_DENIED


class FailedPrecondition(JanError):
    kind = FAILED_PRECONDITION


class ResourceExhausted(JanError):
    """Over a limit; `retry_after` (whole seconds, if known) reaches REST clients as `retry-after` and gRPC
    clients as a google.rpc.RetryInfo detail; `headers` (e.g. OpenAI's x-ratelimit-*) reach both, as
    response headers and trailing metadata."""

    kind = RESOURCE_EXHAUSTED

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: int | None = None,
        headers: dict[str, str] | None = None,
        over_limit: str | None = None,
        guest_limit: bool = False,
    ) -> None:
        super().__init__(message, param=param, code=code, over_limit=over_limit, guest_limit=guest_limit)
        self.retry_after = retry_after
        self.headers = headers or {}


class Unavailable(JanError):
    kind = UNAVAILABLE


class DeadlineExceeded(JanError):
    kind = DEADLINE_EXCEEDED


class Unimplemented(JanError):
    kind = UNIMPLEMENTED


class Internal(JanError):
    kind = INTERNAL


def _wire_bytes(text: str) -> int:
    percent_encoded = sum(1 if " " <= c <= "~" and c != "%" else 3 * len(c.encode()) for c in text)
    return max(len(json.dumps(text)) - 2, percent_encoded)


def clip_message(message: str) -> str:
    """The message cut to _MAX_MESSAGE_CHARS characters and _MAX_MESSAGE_WIRE_BYTES in metadata."""
    message = message[:_MAX_MESSAGE_CHARS]
    while _wire_bytes(message) > _MAX_MESSAGE_WIRE_BYTES:
        message = message[: len(message) * 3 // 4]
    return message


def openai_error_body(message: str, type_: str, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def encode_error_metadata(body: dict) -> str:
    """JSON for a metadata value: ASCII only (non-ASCII escaped), no newlines, so gRPC accepts it."""
    return json.dumps(body, ensure_ascii=True, separators=(",", ":"))
