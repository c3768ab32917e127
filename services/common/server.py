"""The gRPC server bootstrap every service runs on.

A `JanServer` is a grpc.aio server with error mapping (and tracing when enabled), grpc.health.v1, server
reflection, Prometheus metrics on a port of their own when given (services/common/metrics.py), and a graceful
stop: on SIGTERM or SIGINT health turns NOT_SERVING, new calls are refused, calls in flight get
`shutdown_grace_seconds` to finish, then the process exits.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

import grpc
import uvloop
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from jan.v1 import (
    chat_service_pb2,
    inference_service_pb2,
    organization_service_pb2,
    project_controls_service_pb2,
    responses_service_pb2,
    search_service_pb2,
    sign_in_service_pb2,
    usage_service_pb2,
)
from services.common import tracing
from services.common.grpc_errors import ErrorMapped, TolerantRegistration
from services.common.metrics import MetricsEndpoint, ServiceMetrics
from services.common.settings import ServerSettings

log = logging.getLogger(__name__)

# Reflection on any service describes the whole jan.v1 API, so `grpcurl list` through Envoy (which sends
# reflection to one service) shows every service; calls are still routed to the service that owns them.
API_SERVICES = tuple(
    module.DESCRIPTOR.services_by_name[name].full_name
    for module, name in (
        (sign_in_service_pb2, "SignInService"),
        (organization_service_pb2, "OrganizationService"),
        (project_controls_service_pb2, "ProjectControlsService"),
        (chat_service_pb2, "ChatService"),
        (responses_service_pb2, "ResponsesService"),
        (usage_service_pb2, "UsageService"),
        (inference_service_pb2, "InferenceService"),
        (search_service_pb2, "SearchService"),
    )
)


# gRPC metadata a call may carry, either way (gRPC's defaults: 8 KiB, above which calls fail at random, and
# 16 KiB). Envoy passes the client's headers on as metadata (at most 32 KiB: JAN_MAX_REQUEST_HEADERS_KB,
# default 16) with its own and edge.lua's x-jan-body-keys (at most 4 KiB); an error's trailers stay under
# ~10 KiB (errors.clip_message).
MAX_METADATA_BYTES = 64 * 1024


def channel_options(max_message_bytes: int) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_metadata_size", MAX_METADATA_BYTES),
        ("grpc.absolute_max_metadata_size", MAX_METADATA_BYTES),
    ]


class JanServer:
    def __init__(
        self,
        settings: ServerSettings,
        interceptors: Iterable[grpc.aio.ServerInterceptor] = (),
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self._settings = settings
        self.metrics = metrics  # counts every call of the services added; served at settings.metrics_listen_address
        self._metrics_endpoint: MetricsEndpoint | None = None
        self.metrics_port: int | None = None
        self._server = grpc.aio.server(
            interceptors=[
                *tracing.server_interceptors(settings.tracing),
                *interceptors,
            ],
            # Without this, two servers can silently share a port (gRPC sets SO_REUSEPORT by default).
            options=[("grpc.so_reuseport", 0), *channel_options(settings.max_message_bytes)],
        )
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        self._service_names: list[str] = []
        self._stop = asyncio.Event()
        self.port: int | None = None

    def add_service(self, register: Callable[[Any, grpc.aio.Server], None], servicer: Any, full_name: str) -> None:
        # Requests whose bytes do not parse reach ErrorMapped, which answers INVALID_ARGUMENT (not gRPC's UNKNOWN).
        rpc = self.metrics.rpc if self.metrics is not None else None
        register(ErrorMapped(servicer, full_name, rpc), TolerantRegistration(self._server))
        self._service_names.append(full_name)

    async def set_serving(self, serving: bool, service: str | None = None) -> None:
        """Sets one service's health, or (service None) every service's and the overall ("") status."""
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in [service] if service is not None else ["", *self._service_names]:
            await self._health.set(name, status)

    async def start(self, serving: bool = True) -> int:
        """Binds and starts; health reports `serving` for every service until changed."""
        names = [*dict.fromkeys([*API_SERVICES, *self._service_names])]
        reflection.enable_server_reflection(
            [*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
            self._server,
        )
        self.port = self._server.add_insecure_port(self._settings.listen_address)
        if self.port == 0:
            raise RuntimeError(f"cannot listen on {self._settings.listen_address}")
        if self.metrics is not None and self._settings.metrics_listen_address:
            self._metrics_endpoint = MetricsEndpoint(self.metrics, self._settings.metrics_listen_address)
            self.metrics_port = await self._metrics_endpoint.start()
        await self.set_serving(serving)
        await self._server.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        log.info(
            "listening",
            extra={"address": self._settings.listen_address, "port": self.port, "services": self._service_names},
        )
        return self.port

    def request_stop(self) -> None:
        self._stop.set()

    async def wait_for_stop(self) -> None:
        await self._stop.wait()

    async def stop(self) -> None:
        """Refuses new calls, lets calls in flight finish within the grace period, then stops."""
        grace = self._settings.shutdown_grace_seconds
        log.info("shutting down", extra={"grace_seconds": grace})
        await self._health.enter_graceful_shutdown()
        await self._server.stop(grace)
        if self._metrics_endpoint is not None:  # after the drain: the last calls are counted
            await self._metrics_endpoint.stop()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        log.info("stopped")

    async def serve_until_stopped(self) -> None:
        try:
            await self.wait_for_stop()
        finally:
            await self.stop()


def freeze_startup_heap() -> None:
    """Puts every object alive now (modules, settings, clients; the engine's tokenizer, templates and
    config once loaded) out of the garbage collector's reach, after collecting what is already garbage: the
    oldest generation's collections then walk only what serving allocates instead of pausing the event loop
    over the whole startup heap each time. A service's process calls it once built, before it takes calls (not
    JanServer: tests run servers inside one process). vLLM's server does the same (vllm.utils.gc_utils'
    freeze_gc_heap, which only the inference image has)."""
    gc.collect()
    gc.freeze()


T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Runs a service's main coroutine on uvloop (measured: ~5 % more requests/s than asyncio's loop, and
    ~45 % more together with tracing off; see bench/gateway_overhead.py)."""
    return uvloop.run(main)
