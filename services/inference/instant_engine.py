"""A fake engine that answers instantly with canned tokens, to measure the service's own overhead.

Only for benchmarks, and only when configured explicitly: it logs a warning that it is not a model.
It validates requests like the real engine (minus the checks that need a tokenizer).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from services.common.errors import NotFound, Unavailable
from services.inference.domain import GenerationDelta, GenerationRequest, ModelInfo, Usage
from services.inference.validation import validate_request

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InstantEngineConfig:
    served_model_name: str = "instant"
    tokens: int = 16  # tokens per answer unless max_tokens is smaller
    token_text: str = "tok "
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

    def models(self) -> list[ModelInfo]:
        if not self._started:
            return []
        return [ModelInfo(self.config.served_model_name, self.config.max_model_len, self._created, "jan-instant")]

    def is_healthy(self) -> bool:
        return self._started

    @property
    def dead_error(self) -> BaseException | None:
        return None

    def num_running_requests(self) -> int:
        return self._running

    async def generate(self, req: GenerationRequest) -> AsyncIterator[GenerationDelta]:
        n, prompt_tokens = self._check(req)
        choices = req.sampling.n
        self._running += 1
        try:
            for i in range(n):
                await asyncio.sleep(0)  # a scheduling point per token, as a real stream has
                last = i == n - 1
                for index in range(choices):
                    yield GenerationDelta(
                        index=index,
                        content=self.config.token_text,
                        finish_reason=self._finish(req, n) if last else None,
                        usage=Usage(prompt_tokens, n * choices) if last and index == choices - 1 else None,
                    )
        finally:
            self._running -= 1

    async def generate_whole(self, req: GenerationRequest) -> list[GenerationDelta]:
        n, prompt_tokens = self._check(req)
        answers = [
            GenerationDelta(index=index, content=self.config.token_text * n, finish_reason=self._finish(req, n))
            for index in range(req.sampling.n)
        ]
        answers[0].usage = Usage(prompt_tokens, n * len(answers))
        return answers

    def _check(self, req: GenerationRequest) -> tuple[int, int]:
        if not self._started:
            raise Unavailable("the inference engine is not running", code="engine_not_ready")
        if req.model != self.config.served_model_name:
            raise NotFound(f"The model '{req.model}' does not exist", param="model", code="model_not_found")
        validate_request(req)
        n = min(self.config.tokens, req.sampling.max_tokens or self.config.tokens)
        return n, _rough_prompt_tokens(req)

    def _finish(self, req: GenerationRequest, n: int) -> str:
        return "length" if req.sampling.max_tokens is not None and n >= req.sampling.max_tokens else "stop"


def _rough_prompt_tokens(req: GenerationRequest) -> int:
    """About one token per four characters, as there is no tokenizer."""
    chars = 0
    for m in req.messages:
        content = m.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            chars += sum(len(p.get("text", "")) for p in content if isinstance(p, dict))
    return max(1, chars // 4)
