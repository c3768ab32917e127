"""Starts the search service: settings, logging, tracing, then the gRPC server."""

from __future__ import annotations

import asyncio

from jan.v1 import search_service_pb2_grpc
from services.common.logs import configure_logging
from services.common.server import JanServer
from services.common.tracing import configure_tracing
from services.search.servicer import SearchServicer
from services.search.settings import SearchSettings

SERVICE = "jan-search"


async def serve(settings: SearchSettings) -> None:
    server = JanServer(settings)
    server.add_service(
        search_service_pb2_grpc.add_SearchServiceServicer_to_server, SearchServicer(), "jan.v1.SearchService"
    )
    await server.start()
    await server.serve_until_stopped()


def main() -> None:
    settings = SearchSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    configure_tracing(SERVICE, settings.otlp_endpoint)
    asyncio.run(serve(settings))
