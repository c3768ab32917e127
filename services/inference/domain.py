"""Plain data the inference engine takes and returns; no grpc, no vLLM.

The servicer converts protobuf to these and back. Messages, tools, tool_choice and response_format keep
OpenAI's JSON shapes (dicts), since the chat template and vLLM's parsers consume exactly those shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Message = dict[str, Any]
"""An OpenAI chat message: role (system/developer/user/assistant/tool), content (str or a list of parts
like {"type": "text", "text": ...}), and optionally name, tool_calls, tool_call_id, reasoning_content."""

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
FINISH_REASONS = frozenset({"stop", "length", "tool_calls"})


@dataclass
class SamplingOptions:
    """Sampling knobs; None means the engine's default."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    repetition_penalty: float | None = None
    logprobs: bool = False
    top_logprobs: int | None = None
    logit_bias: dict[int, float] | None = None
    n: int = 1
    ignore_eos: bool | None = None
    min_tokens: int | None = None


@dataclass
class GenerationRequest:
    request_id: str
    model: str
    messages: list[Message]
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None  # False: at most one call (enforced by grammar when forced)
    response_format: dict[str, Any] | None = None
    # vLLM extension: exactly one of regex / json / choice / grammar (plus vLLM's optional flags).
    structured_outputs: dict[str, Any] | None = None
    chat_template_kwargs: dict[str, Any] | None = None
    sampling: SamplingOptions = field(default_factory=SamplingOptions)


@dataclass
class ToolCallDelta:
    """One tool call, or a piece of one while streaming (name/arguments may arrive in fragments)."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass
class TopLogprob:
    token: str
    logprob: float
    bytes: list[int] | None = None


@dataclass
class TokenLogprob:
    token: str
    logprob: float
    bytes: list[int] | None = None
    top_logprobs: list[TopLogprob] = field(default_factory=list)


@dataclass
class Usage:
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class GenerationDelta:
    """A piece of answer `index` (0 unless n > 1). Each answer's last piece carries its finish_reason;
    the last piece of the request also carries the usage of all answers.

    From `generate_whole` one delta per answer holds it whole, with complete tool calls.
    """

    index: int = 0
    content: str = ""
    reasoning_content: str = ""
    tool_calls: list[ToolCallDelta] = field(default_factory=list)
    logprobs: list[TokenLogprob] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None

    def is_empty(self) -> bool:
        return not (self.content or self.reasoning_content or self.tool_calls or self.logprobs or self.finish_reason)


@dataclass
class ModelInfo:
    id: str
    max_model_len: int
    created: int
    owned_by: str


def join_deltas(deltas: list[GenerationDelta]) -> GenerationDelta:
    """Fold the streamed deltas of one answer into it: text concatenated, tool-call fragments merged by index."""
    out = GenerationDelta(index=deltas[0].index if deltas else 0)
    calls: dict[int, ToolCallDelta] = {}
    for d in deltas:
        out.content += d.content
        out.reasoning_content += d.reasoning_content
        out.logprobs.extend(d.logprobs)
        for tc in d.tool_calls:
            cur = calls.setdefault(tc.index, ToolCallDelta(index=tc.index))
            cur.id = cur.id or tc.id
            cur.name = (cur.name or "") + (tc.name or "") if tc.name else cur.name
            cur.arguments += tc.arguments
        if d.finish_reason is not None:
            out.finish_reason = d.finish_reason
        if d.usage is not None:
            out.usage = d.usage
    out.tool_calls = [calls[i] for i in sorted(calls)]
    return out
