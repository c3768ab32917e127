"""Plain data of the chat service: a validated chat completion request, what inference streams back, and
the completion assembled from it. No grpc, no protobuf."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sampling:
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    max_tokens: int | None = None
    min_tokens: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    repetition_penalty: float | None = None
    logprobs: bool = False
    top_logprobs: int | None = None
    logit_bias: dict[int, float] = field(default_factory=dict)
    ignore_eos: bool = False
    n: int = 1  # how many answers (choices)


@dataclass(frozen=True)
class ChatRequest:
    """An OpenAI chat completion request that passed validation. Messages, tools, tool_choice and formats
    keep OpenAI's JSON shapes: the inference service hands them to the model's chat template."""

    model: str
    messages: list[dict[str, Any]]
    sampling: Sampling = field(default_factory=Sampling)
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool = True
    response_format: dict[str, Any] | None = None
    structured_outputs: dict[str, Any] | None = None
    chat_template_kwargs: dict[str, Any] | None = None
    stream: bool = False
    include_usage: bool = False
    user: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class ToolCallPiece:
    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True)
class TopLogprob:
    token: str
    logprob: float
    bytes: tuple[int, ...] = ()


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    bytes: tuple[int, ...] = ()
    top_logprobs: tuple[TopLogprob, ...] = ()


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Delta:
    """One step of answer `index` as inference sent it. Each answer's last step has its finish_reason; the
    last step of all has the usage."""

    index: int = 0
    content: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCallPiece] = field(default_factory=list)
    logprobs: list[TokenLogprob] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None


@dataclass
class Choice:
    """One whole answer: the deltas with its index joined."""

    index: int
    content: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCallPiece] = field(default_factory=list)
    logprobs: list[TokenLogprob] = field(default_factory=list)
    finish_reason: str = "stop"

    def add(self, delta: Delta) -> None:
        self.content += delta.content
        self.reasoning += delta.reasoning
        self.logprobs.extend(delta.logprobs)
        for piece in delta.tool_calls:
            merge_tool_call(self.tool_calls, piece)
        if delta.finish_reason:
            self.finish_reason = delta.finish_reason


@dataclass
class Completion:
    """A whole completion: its answers (one unless n > 1) and the usage of all."""

    id: str
    created: int
    model: str
    choices: list[Choice] = field(default_factory=list)
    usage: Usage | None = None

    def add(self, delta: Delta) -> None:
        while len(self.choices) <= delta.index:
            self.choices.append(Choice(len(self.choices)))
        self.choices[delta.index].add(delta)
        if delta.usage:
            self.usage = delta.usage


def merge_tool_call(calls: list[ToolCallPiece], piece: ToolCallPiece) -> None:
    for call in calls:
        if call.index == piece.index:
            call.id = call.id or piece.id
            call.name = call.name or piece.name
            call.arguments += piece.arguments
            return
    calls.append(ToolCallPiece(piece.index, piece.id, piece.name, piece.arguments))


@dataclass(frozen=True)
class ModelCard:
    id: str
    created: int
    owned_by: str
    max_model_len: int
    root: str


@dataclass(frozen=True)
class StreamEvent:
    """What a streaming completion emits, in order: `role` once, then deltas, then a finish, then usage
    (when asked for); or `error` once, after which nothing follows."""

    kind: str  # "role" | "delta" | "finish" | "usage" | "error"
    delta: Delta | None = None
    error: Any = None  # a services.common.errors.JanError

    @property
    def index(self) -> int:
        """Which answer (choice) the event belongs to."""
        return self.delta.index if self.delta else 0
