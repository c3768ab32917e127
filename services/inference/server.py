"""Starts the inference service."""

from __future__ import annotations

import asyncio

from jan.v1 import inference_service_pb2_grpc
from services.common.logs import configure_logging
from services.common.server import JanServer
from services.common.tracing import configure_tracing
from services.inference.servicer import InferenceServicer
from services.inference.settings import InferenceSettings

SERVICE = "jan-inference"


async def serve(settings: InferenceSettings) -> None:
    server = JanServer(settings)
    server.add_service(
        inference_service_pb2_grpc.add_InferenceServiceServicer_to_server, InferenceServicer(), "jan.v1.InferenceService"
    )
    await server.start()
    await server.serve_until_stopped()


def main() -> None:
    settings = InferenceSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    configure_tracing(SERVICE, settings.otlp_endpoint)
    asyncio.run(serve(settings))
