"""The chat service's side of the inference service's gRPC API: the same jan.v1 messages in and out.

Cancelling the iteration (the client went away) cancels the gRPC call, and the inference service aborts
the engine request. gRPC failures become domain errors (unreachable inference → Unavailable → 503), with
the callee's message, param and code kept, so a bad field reads the same through chat as directly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from jan.v1 import inference_service_pb2 as pb
from jan.v1 import inference_service_pb2_grpc
from services.common.grpc_errors import from_rpc_error

_LIST_MODELS_TIMEOUT_SECONDS = 10


class InferenceClient:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = inference_service_pb2_grpc.InferenceServiceStub(channel)

    async def list_models(self) -> list[pb.ServedModel]:
        try:
            response = await self._stub.ListModels(
                pb.InferenceServiceListModelsRequest(), timeout=_LIST_MODELS_TIMEOUT_SECONDS
            )
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        return list(response.models)

    async def generate_whole(self, request: pb.GenerateRequest) -> list[pb.GenerateResponse]:
        """Every answer whole (a unary call: cheaper than a stream)."""
        try:
            reply = await self._stub.GenerateWhole(pb.GenerateWholeRequest(request=request))
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        return list(reply.choices) or [reply.response]

    async def count_tokens(self, request: pb.GenerateRequest) -> int:
        try:
            reply = await self._stub.CountTokens(pb.CountTokensRequest(request=request))
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        return reply.prompt_tokens

    async def generate(self, request: pb.GenerateRequest) -> AsyncIterator[pb.GenerateResponse]:
        call = self._stub.Generate(request)
        try:
            async for step in call:
                yield step
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        finally:
            call.cancel()  # no-op when the call already ended; aborts the engine request otherwise
