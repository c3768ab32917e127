"""Envoy's ext_authz in HTTP mode: the decision of authz.py (as the gRPC Check, authz_servicer.py), over HTTP/1.1.

Envoy asks with the original method and path, the `authorization` and `openai-project` headers (and the
W3C trace context) and no body. 200 lets the request go on: Envoy copies the x-jan-* identity headers of
the answer (signed: services.common.identity) over the request's and removes those listed in
x-envoy-auth-headers-to-remove, so nothing a client sent survives.
401/403/429 with a one-line plain-text reason is the denial; Envoy's local reply config wraps it in OpenAI's
error shape (native gRPC callers see UNAUTHENTICATED / PERMISSION_DENIED / RESOURCE_EXHAUSTED).

Why HTTP and not the gRPC Check: the check runs on every request, and here it costs less than half the CPU
of a Python gRPC call (bench/gateway_overhead.py: auth 0.14 vs 0.34 ms per request, +17 % requests/s).
The gRPC Authorization service stays for Envoys configured for it.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web
from opentelemetry import propagate, trace

from services.auth.authz import Authorizer
from services.auth.authz_answers import denial_headers, denial_kind, grpc_caller
from services.auth.metrics import AuthzMetrics
from services.common import errors
from services.common.settings import split_listen_address

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

HEADERS_TO_REMOVE = "x-envoy-auth-headers-to-remove"
MAX_HEADER_BYTES = 64 * 1024  # one header line or the request line (aiohttp's default: 8190 bytes)


def denial(error: errors.JanError, *, grpc_caller: bool = False) -> web.Response:
    return web.Response(
        status=denial_kind(error).http_status,
        text=error.message,
        headers=denial_headers(error, grpc_caller=grpc_caller),
    )


class AuthzHttpServer:
    def __init__(
        self, authorizer: Authorizer, listen_address: str, *, traced: bool = False, metrics: AuthzMetrics | None = None
    ) -> None:
        self._authorizer = authorizer
        self._metrics = metrics  # decisions by outcome, and their time
        self._traced = traced  # a span per check in the caller's trace (Envoy passes traceparent on)
        self._host, self._port = split_listen_address(listen_address)
        self._runner: web.ServerRunner | None = None
        self.port: int | None = None

    async def handle(self, request: web.BaseRequest) -> web.Response:
        if not self._traced:
            return await self.decide(request)
        context = propagate.extract(request.headers)
        with tracer.start_as_current_span("ext_authz check", context=context, kind=trace.SpanKind.SERVER) as span:
            response = await self.decide(request)
            span.set_attribute("http.response.status_code", response.status)
            return response

    async def decide(self, request: web.BaseRequest) -> web.Response:
        headers = request.headers
        started = time.perf_counter() if self._metrics is not None else None
        try:
            principal = await self._authorizer.decide(
                request.method, request.raw_path, headers.get("authorization"), headers.get("openai-project")
            )
        except Exception as exc:
            if not isinstance(exc, errors.JanError):  # e.g. the database went away: retry, nothing passes
                log.exception("ext_authz check failed")
                exc = errors.Unavailable("The authorization service could not check the credential")
            if self._metrics is not None:
                self._metrics.denied(exc, started)
            return denial(exc, grpc_caller=grpc_caller(headers))
        if self._metrics is not None:
            self._metrics.allowed(principal is None, started)
        values, removed = self._authorizer.identity_headers(principal.caller() if principal else None)
        answer = {**values, HEADERS_TO_REMOVE: ",".join(removed)} if removed else values
        return web.Response(status=200, headers=answer)

    async def start(self) -> int:
        # Whatever Envoy passes on must parse (its header limit, JAN_MAX_REQUEST_HEADERS_KB, is at most 32 KiB):
        # a request aiohttp refused would be answered with its parser's error text, which quotes the header
        # (the credential) and which Envoy would pass on as the denial's reason.
        server = web.Server(
            self.handle, access_log=None, max_line_size=MAX_HEADER_BYTES, max_field_size=MAX_HEADER_BYTES
        )
        self._runner = web.ServerRunner(server, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]
        log.info("ext_authz (HTTP) listening", extra={"address": f"{self._host}:{self.port}"})
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
