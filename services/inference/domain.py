"""What the inference service works with, and the interface both of its engines fit.

The vocabulary is the jan.v1 API itself: a `GenerateRequest` in, `GenerateResponse` steps out (already split
into content, reasoning and tool-call pieces), `ServedModel`s listed. The chat service speaks the same
messages, so nothing is translated between the two; the one translation is into vLLM's request types,
in vllm_adapter.py. No grpc, no vLLM here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from jan.v1 import inference_service_pb2 as pb

ROLES = ("system", "developer", "user", "assistant", "tool")
MAX_CHOICES = 128  # OpenAI's bound for n
MAX_TOP_LOGPROBS = 20


def answer_count(sampling: pb.SamplingParams) -> int:
    """How many answers a request asks for (n; 1 when unset)."""
    return sampling.n if sampling.HasField("n") else 1


class Engine(Protocol):
    """The vLLM engine (engine.py) and the instant test engine (instant_engine.py)."""

    async def start(self) -> None: ...

    async def shutdown(self) -> None: ...

    def models(self) -> list[pb.ServedModel]: ...

    def generate(self, request: pb.GenerateRequest) -> AsyncIterator[pb.GenerateResponse]:
        """Streams the steps of n answers (told apart by index); each answer's last step has its finish
        reason, the very last also the usage of all. Closing the iterator aborts the request."""
        ...

    async def generate_whole(self, request: pb.GenerateRequest) -> list[pb.GenerateResponse]:
        """Every answer whole (complete tool calls), in index order; the first carries the usage of all."""
        ...

    async def count_tokens(self, request: pb.GenerateRequest) -> int:
        """The prompt tokens the request would send to the model."""
        ...

    def num_running_requests(self) -> int: ...

    def is_healthy(self) -> bool: ...

    @property
    def dead_error(self) -> BaseException | None: ...
