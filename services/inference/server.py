"""Starts the inference service: the gRPC server first (health NOT_SERVING), then the engine; SERVING once
the model has loaded, NOT_SERVING again if the engine dies (callers then get UNAVAILABLE).

`InferenceApp` wires the parts (also used by the tests): the engine the settings name and its servicer.
"""

from __future__ import annotations

import asyncio
import logging

from jan.v1 import inference_service_pb2_grpc
from services.common.logs import configure_logging
from services.common.metrics import metrics_for
from services.common.server import JanServer, freeze_startup_heap, run
from services.common.tracing import configure_tracing
from services.inference.domain import Engine
from services.inference.servicer import InferenceServicer
from services.inference.settings import InferenceSettings

SERVICE = "jan-inference"
log = logging.getLogger(__name__)


def build_engine(settings: InferenceSettings) -> Engine:
    if settings.engine == "instant":
        from services.inference.instant_engine import InstantEngine, InstantEngineConfig

        return InstantEngine(
            InstantEngineConfig(
                served_model_name=settings.served_model_name,
                tokens=settings.instant_tokens,
                token_seconds=settings.instant_token_seconds,
            )
        )
    from services.inference.engine import InferenceEngine  # imports vLLM: slow, so only when used

    return InferenceEngine(settings.engine_config())


class InferenceApp:
    def __init__(self, settings: InferenceSettings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or build_engine(settings)
        self.servicer = InferenceServicer(self.engine)

    def register(self, server: JanServer) -> None:
        server.add_service(
            inference_service_pb2_grpc.add_InferenceServiceServicer_to_server, self.servicer, "jan.v1.InferenceService"
        )

    async def load(self, server: JanServer, loaded: asyncio.Event | None = None, *, freeze_heap: bool = False) -> None:
        """Starts the engine, reports SERVING (and sets `loaded`), then watches it: NOT_SERVING when it dies.
        `freeze_heap`: the process is this service's own (services/common/server.freeze_startup_heap)."""
        try:
            await self.engine.start()
        except Exception:
            log.exception("inference engine failed to start")
            server.request_stop()
            raise
        if freeze_heap:
            freeze_startup_heap()
        self.servicer.ready = True
        await server.set_serving(True)
        if loaded is not None:
            loaded.set()
        log.info("inference service is SERVING", extra={"models": [m.id for m in self.engine.models()]})
        while self.engine.is_healthy():  # noqa: ASYNC110 - the engine offers no death callback to await
            await asyncio.sleep(self.settings.health_poll_seconds)
        log.error("inference engine died: %r; reporting NOT_SERVING", self.engine.dead_error)
        await server.set_serving(False)


async def serve(settings: InferenceSettings) -> int:
    app = InferenceApp(settings)
    server = JanServer(settings, metrics=metrics_for(settings.metrics_listen_address))
    app.register(server)
    await server.start(serving=False)
    loader = asyncio.create_task(app.load(server, freeze_heap=True))
    try:
        await server.serve_until_stopped()
    finally:
        loader.cancel()
        await app.engine.shutdown()
    return 1 if loader.done() and not loader.cancelled() and loader.exception() else 0


def main() -> None:
    settings = InferenceSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    configure_tracing(SERVICE, settings.otlp_endpoint)
    raise SystemExit(run(serve(settings)))
