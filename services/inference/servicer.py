"""gRPC servicer for jan.v1.InferenceService: a thin layer over the engine, which speaks the same messages."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from jan.v1 import inference_service_pb2 as pb
from jan.v1 import inference_service_pb2_grpc
from services.common.errors import Unavailable
from services.inference.domain import Engine


class InferenceServicer(inference_service_pb2_grpc.InferenceServiceServicer):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.ready = False  # set by the app once the engine has loaded

    def _require_ready(self) -> None:
        if self._engine.dead_error is not None:
            raise Unavailable("the inference engine has stopped; the service is restarting it")
        if not self.ready:
            raise Unavailable("the model is still loading")

    async def ListModels(
        self, request: pb.InferenceServiceListModelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.InferenceServiceListModelsResponse:
        self._require_ready()
        models = self._engine.models()
        running = self._engine.num_running_requests()
        for model in models:
            model.running_requests = running
        return pb.InferenceServiceListModelsResponse(models=models)

    async def Generate(
        self, request: pb.GenerateRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.GenerateResponse]:
        self._require_ready()
        # If the caller goes away, gRPC cancels this task; the engine's generator aborts the request.
        async for step in self._engine.generate(request):
            yield step

    async def CountTokens(
        self, request: pb.CountTokensRequest, context: grpc.aio.ServicerContext
    ) -> pb.CountTokensResponse:
        self._require_ready()
        return pb.CountTokensResponse(prompt_tokens=await self._engine.count_tokens(request.request))

    async def GenerateWhole(
        self, request: pb.GenerateWholeRequest, context: grpc.aio.ServicerContext
    ) -> pb.GenerateWholeResponse:
        self._require_ready()
        # Cancelling the call cancels this task, and with it the engine request.
        answers = await self._engine.generate_whole(request.request)
        return pb.GenerateWholeResponse(response=answers[0], choices=answers if len(answers) > 1 else [])
