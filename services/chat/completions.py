"""Chat completions: whole answers and streams, over the inference service, plus the model list."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Protocol

from services.chat.domain import ChatRequest, Completion, Delta, ModelCard, StreamEvent
from services.common.errors import JanError, NotFound

log = logging.getLogger(__name__)
_MODELS_TTL_SECONDS = 5.0


class Inference(Protocol):
    async def list_models(self) -> list[ModelCard]: ...

    def generate(self, request: ChatRequest, request_id: str, *, whole: bool) -> AsyncIterator[Delta]: ...


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


class ChatCompletions:
    def __init__(self, inference: Inference) -> None:
        self._inference = inference
        self._models: list[ModelCard] = []
        self._models_at = 0.0

    async def models(self) -> list[ModelCard]:
        """The served models, cached for a few seconds (clients poll this)."""
        if time.monotonic() - self._models_at > _MODELS_TTL_SECONDS:
            self._models = await self._inference.list_models()
            self._models_at = time.monotonic()
        return self._models

    async def model(self, model_id: str) -> ModelCard:
        for card in await self.models():
            if card.id == model_id:
                return card
        raise NotFound(f"The model '{model_id}' does not exist", param="model", code="model_not_found")

    async def complete(self, request: ChatRequest) -> Completion:
        completion = Completion(id=new_completion_id(), created=int(time.time()), model=request.model)
        async for delta in self._inference.generate(request, completion.id, whole=True):
            completion.add(delta)
        if not request.parallel_tool_calls:
            for choice in completion.choices:
                del choice.tool_calls[1:]
        return completion

    async def stream(self, request: ChatRequest, completion_id: str) -> AsyncIterator[StreamEvent]:
        """Role first, then deltas as inference produces them, the finish, usage if asked for. A failure
        before the first delta raises (the caller answers with an error status); after it, the stream
        ends with an error event, since the HTTP status has already been sent."""
        started = False
        try:
            async for delta in self._inference.generate(request, completion_id, whole=False):
                if not started:
                    started = True
                    for index in range(request.sampling.n):
                        yield StreamEvent("role", Delta(index=index))
                if not request.parallel_tool_calls:
                    delta.tool_calls = [t for t in delta.tool_calls if t.index == 0]
                usage, finish = delta.usage, delta.finish_reason
                delta.usage = delta.finish_reason = None
                if delta.content or delta.reasoning or delta.tool_calls or delta.logprobs:
                    yield StreamEvent("delta", delta)
                if finish:
                    yield StreamEvent("finish", Delta(index=delta.index, finish_reason=finish))
                    if request.include_usage and usage:
                        yield StreamEvent("usage", Delta(usage=usage))
        except JanError as error:
            if not started:
                raise
            log.warning("stream failed after it began", extra={"completion_id": completion_id, "error": error.message})
            yield StreamEvent("error", error=error)
