"""gRPC servicer for jan.v1.SearchService: converts protos to domain calls and back."""

from __future__ import annotations

from jan.v1 import search_service_pb2_grpc


class SearchServicer(search_service_pb2_grpc.SearchServiceServicer):
    """Every RPC answers UNIMPLEMENTED until search lands (the base class raises it)."""
