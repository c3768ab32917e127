"""The chat service's side of the search service's gRPC API (web search for chat completions and MCP).

gRPC failures become domain errors with the callee's message kept: no key configured → FailedPrecondition,
Serper down after the search service's retries → Unavailable.
"""

from __future__ import annotations

import grpc

from jan.v1 import search_service_pb2 as pb
from jan.v1 import search_service_pb2_grpc
from services.common.grpc_errors import from_rpc_error

SEARCH_TIMEOUT_SECONDS = 60.0  # the search service's own retries and timeouts end well before this


class SearchClient:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = search_service_pb2_grpc.SearchServiceStub(channel)

    async def search(self, request: pb.SearchRequest) -> pb.SearchResponse:
        try:
            response: pb.SearchResponse = await self._stub.Search(request, timeout=SEARCH_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        return response

    async def scrape(self, request: pb.ScrapeRequest) -> pb.ScrapeResponse:
        try:
            response: pb.ScrapeResponse = await self._stub.Scrape(request, timeout=SEARCH_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        return response
