"""gRPC servicer for jan.v1.ChatService: converts protos to domain calls and back."""

from __future__ import annotations

from jan.v1 import chat_service_pb2_grpc


class ChatServicer(chat_service_pb2_grpc.ChatServiceServicer):
    """Every RPC answers UNIMPLEMENTED until the chat issue lands (the base class raises it)."""
