"""gRPC servicer for jan.v1.AuthService: converts protos to domain calls and back."""

from __future__ import annotations

from jan.v1 import auth_service_pb2_grpc


class AuthServicer(auth_service_pb2_grpc.AuthServiceServicer):
    """Every RPC answers UNIMPLEMENTED until the auth issue lands (the base class raises it)."""
