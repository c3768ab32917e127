"""gRPC servicer for jan.v1.InferenceService: converts protos to engine calls and back."""

from __future__ import annotations

from jan.v1 import inference_service_pb2_grpc


class InferenceServicer(inference_service_pb2_grpc.InferenceServiceServicer):
    """Placeholder until the engine lands."""
