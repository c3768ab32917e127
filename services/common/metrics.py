"""Prometheus metrics: each service's own registry, the call metrics every service records, and the HTTP endpoint
that serves them on a port of its own (JAN_<SERVICE>_METRICS_LISTEN; off when empty), never through Envoy.

What recording costs is kept small by construction: calls are counted and timed by the error-mapping wrapper
each servicer method already has (grpc_errors.ErrorMapped, no interceptor), with each method's labelled series
bound once, when the method is registered; what is state rather than an event (a queue's depth, a cache's size)
is read when Prometheus scrapes, not kept up to date on the request path.

Every service exposes, besides its own metrics (services/<name>/metrics.py), the process's (CPU, memory, file
descriptors, Python's GC) from prometheus_client's default registry; the inference service also exposes vLLM's
(vllm:*), which vLLM registers there when its stat logging is on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator

from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric

from services.common.settings import split_listen_address

log = logging.getLogger(__name__)

# Seconds; calls here take from a fraction of a millisecond (a cached lookup) to minutes (a long stream).
CALL_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
SCRAPE_HOOK_TIMEOUT_SECONDS = 5.0


class RpcMetrics:
    """What every service records about the gRPC calls it serves, named as go-grpc-prometheus names them (so
    the usual dashboards work): calls started, calls handled by status code, their duration; and requests
    refused by one of the service's configured limits (errors.JanError.over_limit)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("grpc_type", "grpc_service", "grpc_method")
        self.started = Counter("grpc_server_started", "gRPC calls started on the server", labels, registry=registry)
        self.handled = Counter(
            "grpc_server_handled",
            "gRPC calls completed on the server, by status code",
            (*labels, "grpc_code"),
            registry=registry,
        )
        self.seconds = Histogram(
            "grpc_server_handling_seconds",
            "Time from a call's start to its status (a stream's: to its end)",
            labels,
            buckets=CALL_BUCKETS,
            registry=registry,
        )
        self.limit_denials = Counter(
            "jan_limit_denials",
            "Requests refused by a configured limit, by limit and whether the guests' limit applied",
            ("limit", "guest"),
            registry=registry,
        )

    def method(self, service: str, method: str, *, streaming: bool) -> MethodMetrics:
        return MethodMetrics(self, service, method, "server_stream" if streaming else "unary")

    def limit_denied(self, limit: str, guest: bool) -> None:
        self.limit_denials.labels(limit, "true" if guest else "false").inc()


class MethodMetrics:
    """One method's series, bound at registration: a call costs two counter increments and one observation."""

    __slots__ = ("_by_code", "_labels", "_rpc", "_seconds", "_started")

    def __init__(self, rpc: RpcMetrics, service: str, method: str, kind: str) -> None:
        self._rpc = rpc
        self._labels = (kind, service, method)
        self._started = rpc.started.labels(*self._labels)
        self._seconds = rpc.seconds.labels(*self._labels)
        self._by_code = {"OK": rpc.handled.labels(*self._labels, "OK")}  # shown at 0 before the first call

    def start(self) -> float:
        self._started.inc()
        return time.perf_counter()

    def done(self, started: float, code: str) -> None:
        self._seconds.observe(time.perf_counter() - started)
        counter = self._by_code.get(code)
        if counter is None:
            counter = self._by_code[code] = self._rpc.handled.labels(*self._labels, code)
        counter.inc()

    def limit_denied(self, limit: str, guest: bool) -> None:
        self._rpc.limit_denied(limit, guest)


ScrapeHook = Callable[[], Awaitable[None]]


class ServiceMetrics:
    """One service's metrics: a registry of its own (its parts add their metrics to it), the call metrics, and
    hooks that refresh scrape-time gauges (e.g. a count read from the database) before each scrape."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.rpc = RpcMetrics(self.registry)
        self._hooks: list[ScrapeHook] = []

    def on_scrape(self, hook: ScrapeHook) -> None:
        self._hooks.append(hook)

    async def refresh(self) -> None:
        """Runs the scrape hooks (at most SCRAPE_HOOK_TIMEOUT_SECONDS); one that fails is logged and its gauges
        keep their last values."""
        for hook in self._hooks:
            try:
                async with asyncio.timeout(SCRAPE_HOOK_TIMEOUT_SECONDS):
                    await hook()
            except Exception:
                log.warning("refreshing a metric before a scrape failed", exc_info=True)

    def collect(self) -> Iterator[Metric]:
        """This service's metrics, then the process's (and vLLM's) from prometheus_client's default registry."""
        yield from self.registry.collect()
        yield from REGISTRY.collect()

    async def render(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition (text, or OpenMetrics when the scraper asks for it) and its content type. Rendered in a
        thread, so a large one (vLLM's histograms) does not hold the event loop for its whole length."""
        await self.refresh()
        encoder, content_type = choose_encoder(accept)
        return await asyncio.to_thread(encoder, self), content_type


def metrics_for(listen_address: str) -> ServiceMetrics | None:
    """The service's metrics when they are served (a listen address is set), else None: nothing is recorded."""
    return ServiceMetrics() if listen_address else None


class MetricsEndpoint:
    """GET /metrics over HTTP/1.1 on the service's event loop (aiohttp, as auth's ext_authz endpoint)."""

    def __init__(self, metrics: ServiceMetrics, listen_address: str) -> None:
        self._metrics = metrics
        self._host, self._port = split_listen_address(listen_address)
        self._runner: web.ServerRunner | None = None
        self.port: int | None = None

    async def handle(self, request: web.BaseRequest) -> web.Response:
        if request.path != "/metrics":
            return web.Response(status=404, text="not found: metrics are at /metrics\n")
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=405, headers={"allow": "GET, HEAD"})
        body, content_type = await self._metrics.render(request.headers.get("accept", ""))
        return web.Response(body=body, headers={"content-type": content_type})

    async def start(self) -> int:
        self._runner = web.ServerRunner(web.Server(self.handle, access_log=None), handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port, reuse_address=True).start()
        self.port = self._runner.addresses[0][1]
        log.info("metrics listening", extra={"address": f"{self._host}:{self.port}"})
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
