"""The interface the servicer codes against; the vLLM engine and the instant test engine both fit it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from services.inference.domain import GenerationDelta, GenerationRequest, ModelInfo


class Engine(Protocol):
    async def start(self) -> None: ...

    async def shutdown(self) -> None: ...

    def models(self) -> list[ModelInfo]: ...

    def generate(self, req: GenerationRequest) -> AsyncIterator[GenerationDelta]:
        """Stream deltas (of n answers, by index); each answer's last has its finish_reason, the very last
        also the usage. Closing the iterator aborts the request."""
        ...

    async def generate_whole(self, req: GenerationRequest) -> list[GenerationDelta]:
        """Every answer whole, in index order; the first carries the usage of all."""
        ...

    def num_running_requests(self) -> int: ...

    def is_healthy(self) -> bool: ...

    @property
    def dead_error(self) -> BaseException | None: ...
