"""Chat completions over the inference service: whole answers, streams as typed events, the model list.

The stream's order is a small state machine: the role of every choice once the first step arrives, then
each step's new content as it comes (choices interleaved, told apart by index), a finish per choice, and
the usage once at the end when asked for. A failure before the first step raises (the caller answers with
an error status); after it the stream ends with StreamFailed, since the HTTP status has been sent.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Protocol

from jan.v1 import inference_service_pb2 as inference_pb
from services.chat.domain import (
    ChatRequest,
    ChoiceFinished,
    Completion,
    Generated,
    RoleStarted,
    StreamEvent,
    StreamFailed,
    UsageCounted,
)
from services.common.errors import JanError, NotFound
from services.common.generation import FINISH_REASON_NAMES

log = logging.getLogger(__name__)
_MODELS_TTL_SECONDS = 5.0


class Inference(Protocol):
    """The inference service as chat uses it (inference_client.InferenceClient; fakes in tests)."""

    async def list_models(self) -> list[inference_pb.ServedModel]: ...

    def generate(self, request: inference_pb.GenerateRequest) -> AsyncIterator[inference_pb.GenerateResponse]: ...

    async def generate_whole(self, request: inference_pb.GenerateRequest) -> list[inference_pb.GenerateResponse]: ...


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


class ChatCompletions:
    def __init__(self, inference: Inference) -> None:
        self._inference = inference
        self._models: list[inference_pb.ServedModel] = []
        self._models_at = 0.0

    async def models(self) -> list[inference_pb.ServedModel]:
        """The served models, cached for a few seconds (clients poll this)."""
        if time.monotonic() - self._models_at > _MODELS_TTL_SECONDS:
            self._models = await self._inference.list_models()
            self._models_at = time.monotonic()
        return self._models

    async def model(self, model_id: str) -> inference_pb.ServedModel:
        for served in await self.models():
            if served.id == model_id:
                return served
        raise NotFound(f"The model '{model_id}' does not exist", param="model", code="model_not_found")

    async def complete(self, request: ChatRequest, completion_id: str) -> Completion:
        answers = await self._inference.generate_whole(request.generate)
        if not request.parallel_tool_calls:
            for answer in answers:
                del answer.tool_calls[1:]
        usage = answers[0].usage if answers and answers[0].HasField("usage") else None
        return Completion(completion_id, int(time.time()), request.model, answers, usage)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        started = False
        try:
            async for step in self._inference.generate(request.generate):
                if not started:
                    started = True
                    for index in range(request.n):
                        yield RoleStarted(index)
                if not request.parallel_tool_calls and any(piece.index > 0 for piece in step.tool_calls):
                    kept = [piece for piece in step.tool_calls if piece.index == 0]
                    del step.tool_calls[:]
                    step.tool_calls.extend(kept)
                if step.content or step.reasoning_content or step.tool_calls or step.logprobs:
                    yield Generated(step)
                if step.finish_reason:
                    yield ChoiceFinished(step.index, FINISH_REASON_NAMES[step.finish_reason])
                if request.include_usage and step.HasField("usage"):
                    yield UsageCounted(step.usage)
        except JanError as error:
            if not started:
                raise
            log.warning("stream failed after it began", extra={"request_id": request.generate.request_id})
            yield StreamFailed(error)
