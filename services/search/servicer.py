"""gRPC servicer for jan.v1.SearchService: a thin layer that converts (convert.py) and calls the client.

Domain errors raised by the client become statuses through the common ErrorMapped wrapper.
"""

from __future__ import annotations

import grpc

from jan.v1 import search_service_pb2, search_service_pb2_grpc
from services.search.convert import (
    scrape_query_from_proto,
    scrape_response_to_proto,
    search_query_from_proto,
    search_response_to_proto,
)
from services.search.serper import SerperClient


class SearchServicer(search_service_pb2_grpc.SearchServiceServicer):
    def __init__(self, client: SerperClient) -> None:
        self._client = client

    async def Search(
        self, request: search_service_pb2.SearchRequest, context: grpc.aio.ServicerContext
    ) -> search_service_pb2.SearchResponse:
        result = await self._client.search(search_query_from_proto(request), time_left=context.time_remaining())
        return search_response_to_proto(result)

    async def Scrape(
        self, request: search_service_pb2.ScrapeRequest, context: grpc.aio.ServicerContext
    ) -> search_service_pb2.ScrapeResponse:
        result = await self._client.scrape(scrape_query_from_proto(request), time_left=context.time_remaining())
        return scrape_response_to_proto(result)
