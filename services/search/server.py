"""Starts the search service: settings, logging, tracing, one HTTP client for Serper, then the gRPC server.

`SearchApp` wires the parts (also used by the tests and the benchmark): the Serper client over an HTTP client,
and the servicer.
"""

from __future__ import annotations

import logging

import httpx

from jan.v1 import search_service_pb2_grpc
from services.common.logs import configure_logging
from services.common.metrics import ServiceMetrics, metrics_for
from services.common.server import JanServer, freeze_startup_heap, run
from services.common.tracing import configure_tracing
from services.search.metrics import SearchMetrics
from services.search.serper import SerperClient, SerperConfig, create_http_client
from services.search.servicer import SearchServicer
from services.search.settings import SearchSettings

SERVICE = "jan-search"
log = logging.getLogger(__name__)


def serper_config(settings: SearchSettings) -> SerperConfig:
    return SerperConfig(
        api_key=settings.serper_api_key.get_secret_value(),
        search_url=settings.serper_search_url,
        scrape_url=settings.serper_scrape_url,
        timeout_seconds=settings.timeout_seconds,
        max_attempts=settings.max_attempts,
        cache_ttl_seconds=settings.cache_ttl_seconds,
        cache_max_entries=settings.cache_max_entries,
        cache_max_bytes=settings.cache_max_bytes,
    )


class SearchApp:
    def __init__(
        self, settings: SearchSettings, http: httpx.AsyncClient, metrics: ServiceMetrics | None = None
    ) -> None:
        search_metrics = SearchMetrics(metrics) if metrics is not None else None
        self.client = SerperClient(http, serper_config(settings), metrics=search_metrics)
        self.servicer = SearchServicer(self.client)

    def register(self, server: JanServer) -> None:
        server.add_service(
            search_service_pb2_grpc.add_SearchServiceServicer_to_server, self.servicer, "jan.v1.SearchService"
        )


async def serve(settings: SearchSettings) -> None:
    if not settings.serper_api_key.get_secret_value():
        log.warning("SERPER_API_KEY is not set: Search and Scrape will answer FAILED_PRECONDITION")
    # The HTTP client outlives the gRPC server: calls draining during shutdown still reach Serper.
    async with create_http_client(settings.timeout_seconds, settings.max_connections) as http:
        metrics = metrics_for(settings.metrics_listen_address)
        server = JanServer(settings, metrics=metrics)
        SearchApp(settings, http, metrics).register(server)
        freeze_startup_heap()  # built: before the server takes calls, so the collection delays none
        await server.start()
        await server.serve_until_stopped()


def main() -> None:
    settings = SearchSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    configure_tracing(SERVICE, settings.otlp_endpoint)
    run(serve(settings))
