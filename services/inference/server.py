"""Starts the inference service: the gRPC server first (health NOT_SERVING), then the engine; SERVING once
the model has loaded, NOT_SERVING again if the engine dies (callers then get UNAVAILABLE)."""

from __future__ import annotations

import asyncio
import logging

from jan.v1 import inference_service_pb2_grpc
from services.common.logs import configure_logging
from services.common.server import JanServer, run
from services.common.tracing import configure_tracing
from services.inference.base import Engine
from services.inference.servicer import InferenceServicer
from services.inference.settings import InferenceSettings

SERVICE = "jan-inference"
log = logging.getLogger(__name__)


def build_engine(settings: InferenceSettings) -> Engine:
    if settings.engine == "instant":
        from services.inference.instant_engine import InstantEngine, InstantEngineConfig

        return InstantEngine(
            InstantEngineConfig(served_model_name=settings.served_model_name, tokens=settings.instant_tokens)
        )
    from services.inference.engine import InferenceEngine  # imports vLLM: slow, so only when used

    return InferenceEngine(settings.engine_config())


async def _watch_engine(engine: Engine, server: JanServer, poll_seconds: float) -> None:
    while engine.is_healthy():  # noqa: ASYNC110 - the engine offers no death callback to await
        await asyncio.sleep(poll_seconds)
    log.error("inference engine died: %r; reporting NOT_SERVING", engine.dead_error)
    await server.set_serving(False)


async def _load(engine: Engine, servicer: InferenceServicer, server: JanServer, settings: InferenceSettings) -> None:
    try:
        await engine.start()
    except Exception:
        log.exception("inference engine failed to start")
        server.request_stop()
        raise
    servicer.ready = True
    await server.set_serving(True)
    log.info("inference service is SERVING", extra={"models": [m.id for m in engine.models()]})
    await _watch_engine(engine, server, settings.health_poll_seconds)


async def serve(settings: InferenceSettings) -> int:
    engine = build_engine(settings)
    servicer = InferenceServicer(engine)
    server = JanServer(settings)
    server.add_service(
        inference_service_pb2_grpc.add_InferenceServiceServicer_to_server, servicer, "jan.v1.InferenceService"
    )
    await server.start(serving=False)
    loader = asyncio.create_task(_load(engine, servicer, server, settings))
    try:
        await server.serve_until_stopped()
    finally:
        loader.cancel()
        await engine.shutdown()
    return 1 if loader.done() and not loader.cancelled() and loader.exception() else 0


def main() -> None:
    settings = InferenceSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    configure_tracing(SERVICE, settings.otlp_endpoint)
    raise SystemExit(run(serve(settings)))
