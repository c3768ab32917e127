"""A fake engine that answers instantly with canned tokens, to measure the service's own overhead.

Only for benchmarks, and only when configured explicitly: it logs a warning that it is not a model.
It validates requests like the real engine (minus the checks that need a tokenizer).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from google.protobuf import struct_pb2

from jan.v1 import inference_service_pb2 as pb
from jan.v1 import types_pb2
from services.common.errors import NotFound, Unavailable
from services.inference import truncation
from services.inference.convert import json_value
from services.inference.domain import answer_count
from services.inference.validation import validate_request

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InstantEngineConfig:
    served_model_name: str = "instant"
    tokens: int = 16  # tokens per answer unless max_tokens is smaller
    token_text: str = "tok "
    token_seconds: float = 0.0  # a pause between streamed tokens (fault tests need a stream that lasts)
    max_model_len: int = 4096


class InstantEngine:
    def __init__(self, config: InstantEngineConfig | None = None) -> None:
        self.config = config or InstantEngineConfig()
        self._started = False
        self._running = 0
        self._created = 0

    async def start(self) -> None:
        log.warning(
            "INSTANT ENGINE: model %r is NOT a real model; it returns %d canned tokens instantly "
            "(for overhead benchmarks only)",
            self.config.served_model_name,
            self.config.tokens,
        )
        self._started = True
        self._created = int(time.time())

    async def shutdown(self) -> None:
        self._started = False

    def models(self) -> list[pb.ServedModel]:
        if not self._started:
            return []
        name = self.config.served_model_name
        return [
            pb.ServedModel(
                id=name,
                root=name,
                max_model_len=self.config.max_model_len,
                created=self._created,
                owned_by="jan-instant",
                tool_calling=True,  # a named tool choice gets a canned call (_forced_call)
            )
        ]

    def is_healthy(self) -> bool:
        return self._started

    @property
    def dead_error(self) -> BaseException | None:
        return None

    def num_running_requests(self) -> int:
        return self._running

    async def generate(self, req: pb.GenerateRequest) -> AsyncIterator[pb.GenerateResponse]:
        n, prompt_tokens = self._check(req)
        forced = _forced_call(req)
        if forced is not None:
            step = pb.GenerateResponse(tool_calls=[forced], finish_reason=pb.FINISH_REASON_STOP)
            step.usage.CopyFrom(_usage(prompt_tokens, 1))
            step.completion_tokens, step.prompt_tokens = 1, prompt_tokens
            yield step
            return
        choices = answer_count(req.sampling)
        finish = self._finish(req, n)
        self._running += 1
        try:
            for i in range(n):
                await asyncio.sleep(self.config.token_seconds)  # a scheduling point per token, as a real stream has
                last = i == n - 1
                for index in range(choices):
                    step = pb.GenerateResponse(index=index, content=self.config.token_text, completion_tokens=1)
                    if i == 0 and index == 0:
                        step.prompt_tokens = prompt_tokens
                    if last:
                        step.finish_reason = finish
                        if index == choices - 1:
                            step.usage.CopyFrom(_usage(prompt_tokens, n * choices))
                    yield step
        finally:
            self._running -= 1

    async def generate_whole(self, req: pb.GenerateRequest) -> list[pb.GenerateResponse]:
        n, prompt_tokens = self._check(req)
        forced = _forced_call(req)
        answers = [
            pb.GenerateResponse(index=index, content=self.config.token_text * n, finish_reason=self._finish(req, n))
            if forced is None
            else pb.GenerateResponse(index=index, tool_calls=[forced], finish_reason=pb.FINISH_REASON_STOP)
            for index in range(answer_count(req.sampling))
        ]
        answers[0].usage.CopyFrom(_usage(prompt_tokens, n * len(answers)))
        answers[0].decode_seconds = 0.0  # every token at once
        return answers

    async def count_tokens(self, req: pb.GenerateRequest) -> int:
        return self._check(req)[1]

    def _check(self, req: pb.GenerateRequest) -> tuple[int, int]:
        if not self._started:
            raise Unavailable("the inference engine is not running", code="engine_not_ready")
        validate_request(req)
        if req.model != self.config.served_model_name:
            raise NotFound(f"The model '{req.model}' does not exist", param="model", code="model_not_found")
        max_tokens = req.sampling.max_tokens if req.sampling.HasField("max_tokens") else None
        n = min(self.config.tokens, max_tokens or req.default_max_tokens or self.config.tokens)
        return n, self._fitted_prompt_tokens(req, max_tokens)

    def _fitted_prompt_tokens(self, req: pb.GenerateRequest, max_tokens: int | None) -> int:
        """The prompt's rough size after dropping replayed history the way the real engine does (the fewest
        turns that make it fit, by bisection over the cuts)."""
        limit, prompt = self.config.max_model_len, _rough_prompt_tokens(req)
        room = truncation.answer_room(limit, max_tokens)
        cuts = truncation.cut_points(req) if prompt + room > limit else []
        low, high, fitted = 0, len(cuts) - 1, None
        while low <= high:
            middle = (low + high) // 2
            tokens = _rough_prompt_tokens(truncation.without_history_before(req, cuts[middle]))
            if tokens + room <= limit:
                fitted, high = tokens, middle - 1
            else:
                low = middle + 1
        if fitted is not None:
            return fitted
        return _rough_prompt_tokens(truncation.without_history_before(req, cuts[-1])) if cuts else prompt

    def _finish(self, req: pb.GenerateRequest, n: int) -> pb.FinishReason:
        s = req.sampling
        bound = s.max_tokens if s.HasField("max_tokens") else req.default_max_tokens
        return pb.FINISH_REASON_LENGTH if bound and n >= bound else pb.FINISH_REASON_STOP


def _forced_call(req: pb.GenerateRequest) -> types_pb2.ToolCallDelta | None:
    """For a named tool choice, a canned call of that function: "instant" for each required string
    parameter (enough for the overhead benchmarks of tool loops)."""
    name = req.tool_choice.function_name if req.tool_choice.WhichOneof("choice") == "function_name" else None
    tool = next((t for t in req.tools if t.function.name == name), None)
    if tool is None:
        return None
    schema = json_value(struct_pb2.Value(struct_value=tool.function.parameters)) or {}
    arguments = {
        key: "instant"
        for key in schema.get("required", [])
        if schema.get("properties", {}).get(key, {}).get("type") == "string"
    }
    return types_pb2.ToolCallDelta(
        index=0,
        id="call_instant",
        type="function",
        function=types_pb2.FunctionCallDelta(name=name, arguments=json.dumps(arguments)),
    )


def _usage(prompt_tokens: int, completion_tokens: int) -> types_pb2.Usage:
    return types_pb2.Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
        prompt_tokens_details=types_pb2.PromptTokensDetails(),
        completion_tokens_details=types_pb2.CompletionTokensDetails(),
    )


def _rough_prompt_tokens(req: pb.GenerateRequest) -> int:
    """About one token per four characters, as there is no tokenizer."""
    chars = 0
    for m in req.messages:
        content = json_value(m.content)
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            chars += sum(len(p.get("text", "")) for p in content if isinstance(p, dict))
    return max(1, chars // 4)
