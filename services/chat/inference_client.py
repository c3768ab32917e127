"""The chat service's side of the inference service's gRPC API: the same jan.v1 messages in and out.

Cancelling the iteration (the client went away) cancels the gRPC call, and the inference service aborts
the engine request. gRPC failures become domain errors (unreachable inference → Unavailable → 503), with
the callee's message, param and code kept, so a bad field reads the same through chat as directly.
Every generation's tokens are counted here (`on_usage`: usage metering, rate limits): its final usage, or what
a stream cut short had made; and timed (metrics.py): its first token and its decoding speed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import grpc

from jan.v1 import inference_service_pb2 as pb
from jan.v1 import inference_service_pb2_grpc, types_pb2
from services.chat.metrics import GenerationMetrics
from services.common.grpc_errors import from_rpc_error

_LIST_MODELS_TIMEOUT_SECONDS = 10
# Told each generation's tokens (who they count against, the model, the usage): metering and rate limits.
OnUsage = Callable[[types_pb2.Attribution, str, types_pb2.Usage], None]


class InferenceClient:
    def __init__(
        self, channel: grpc.aio.Channel, on_usage: OnUsage | None = None, metrics: GenerationMetrics | None = None
    ) -> None:
        self._stub = inference_service_pb2_grpc.InferenceServiceStub(channel)
        self._on_usage = on_usage
        self._metrics = metrics

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
        started = time.perf_counter()
        try:
            reply = await self._stub.GenerateWhole(pb.GenerateWholeRequest(request=request))
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        answers = list(reply.choices) or [reply.response]
        if self._on_usage is not None and answers[0].HasField("usage"):
            self._on_usage(request.attribution, request.model, answers[0].usage)
        if self._metrics is not None:
            self._metrics.whole(time.perf_counter() - started, answers[0])
        return answers

    async def count_tokens(self, request: pb.GenerateRequest) -> int:
        try:
            reply = await self._stub.CountTokens(pb.CountTokensRequest(request=request))
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        return reply.prompt_tokens

    async def generate(self, request: pb.GenerateRequest) -> AsyncIterator[pb.GenerateResponse]:
        call = self._stub.Generate(request)
        counted = _StreamCount(timed=self._metrics is not None)
        try:
            async for step in call:
                counted.add(step)
                yield step
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        finally:
            call.cancel()  # no-op when the call already ended; aborts the engine request otherwise
            if self._on_usage is not None and counted.started:
                self._on_usage(request.attribution, request.model, counted.usage())
            if self._metrics is not None:
                counted.report(self._metrics)


class _StreamCount:
    """A stream's tokens: its final usage, or (cut short) the prompt and the tokens of the messages seen; `timed`,
    also when its first and last tokens came."""

    def __init__(self, *, timed: bool = False) -> None:
        self.started = False
        self._final: types_pb2.Usage | None = None
        self._prompt = self._cached = self._completion = 0
        self._called_at = time.perf_counter() if timed else None
        self._first_at = self._last_at = 0.0
        self._first_tokens = 0

    def add(self, step: pb.GenerateResponse) -> None:
        if self._called_at is not None and step.completion_tokens:
            self._last_at = time.perf_counter()
            if not self._first_tokens:
                self._first_at, self._first_tokens = self._last_at, step.completion_tokens
        if not self.started:
            self.started = True
            self._prompt, self._cached = step.prompt_tokens, step.cached_prompt_tokens
        self._completion += step.completion_tokens
        if step.HasField("usage"):
            self._final = step.usage

    def report(self, metrics: GenerationMetrics) -> None:
        if self._called_at is not None and self._first_tokens:
            after_first = self._completion - self._first_tokens
            metrics.streamed(self._first_at - self._called_at, self._last_at - self._first_at, after_first)

    def usage(self) -> types_pb2.Usage:
        if self._final is not None:
            return self._final
        return types_pb2.Usage(
            prompt_tokens=self._prompt,
            completion_tokens=self._completion,
            total_tokens=self._prompt + self._completion,
            prompt_tokens_details=types_pb2.PromptTokensDetails(cached_tokens=self._cached),
        )
