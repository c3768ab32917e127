"""vLLM's outputs as jan.v1 answers: a request prepared for the engine, and its outputs turned into
`GenerateResponse` steps (streaming, through each answer's stateful parser) or whole answers (vLLM's
non-streaming parser path), with finish reasons, log probabilities and usage as vLLM's server counts them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
from vllm.outputs import CompletionOutput, RequestOutput
from vllm.parser.abstract_parser import Parser
from vllm.sampling_params import SamplingParams

from jan.v1 import inference_service_pb2 as pb
from jan.v1 import types_pb2
from services.common.errors import Unavailable
from services.inference.convert import finish_reason as finish_reason_number
from services.inference.vllm_adapter import convert_logprobs, tool_call_deltas, whole_tool_calls


@dataclass
class PreparedRequest:
    """A request checked, rendered by the chat template and ready for AsyncLLM.generate."""

    request_id: str
    chat: ChatCompletionRequest
    engine_input: Any
    sampling: SamplingParams
    parsers: list[Parser | None]  # one per answer: vLLM's parsers keep state while streaming
    prompt_ids: list[int]
    reasoning_ended: bool | None
    reasoning_kwargs: dict[str, Any] | None
    named_tool: bool
    tokenizer: Any

    @property
    def n(self) -> int:
        return len(self.parsers)


@dataclass
class StreamedAnswer:
    """What streaming one answer keeps: its parser (stateful), its tokens so far, whether it called tools."""

    parser: Parser | None
    token_ids: list[int] = field(default_factory=list)
    called_tools: bool = False


class TokenCounter:
    """Stamps each streamed message with the tokens generated since the previous one, and the first with
    the prompt's tokens, so a caller that stops reading can meter what was made."""

    def __init__(self) -> None:
        self._unstamped = 0
        self._first = True

    def generated(self, tokens: int) -> None:
        self._unstamped += tokens

    def stamp(self, step: pb.GenerateResponse, output: RequestOutput, p: PreparedRequest) -> None:
        step.completion_tokens, self._unstamped = self._unstamped, 0
        if self._first:
            self._first = False
            prompt_ids = output.prompt_token_ids
            step.prompt_tokens = len(prompt_ids) if prompt_ids is not None else len(p.prompt_ids)
            step.cached_prompt_tokens = output.num_cached_tokens or 0


def next_step(
    p: PreparedRequest, answer: StreamedAnswer, out: CompletionOutput, prompt_ids: list[int] | None
) -> pb.GenerateResponse | None:
    """One answer's new output through its streaming parser; None while nothing is generated yet."""
    finished = out.finish_reason is not None
    if not out.text and not out.token_ids and not answer.token_ids and not finished:
        return None  # chunked prefill
    new_ids = list(out.token_ids)
    answer.token_ids.extend(new_ids)
    step = pb.GenerateResponse(index=out.index)
    if answer.parser is None:
        step.content = out.text
    else:
        msg = answer.parser.parse_delta(out.text, new_ids, p.chat, prompt_token_ids=prompt_ids, finished=finished)
        if msg is not None:
            step.content = msg.content or ""
            step.reasoning_content = msg.reasoning or ""
            step.tool_calls.extend(tool_call_deltas(msg))
            answer.called_tools = answer.called_tools or bool(step.tool_calls)
    if p.chat.logprobs:
        step.logprobs.extend(_logprobs(p, new_ids, out.logprobs))
    if finished:
        step.finish_reason = finish_reason(out.finish_reason, answer.called_tools, p)
    return step


def whole_answer(
    p: PreparedRequest, out: CompletionOutput, prompt_ids: list[int], *, auto_tools: bool
) -> pb.GenerateResponse:
    token_ids = list(out.token_ids)
    parser = p.parsers[out.index]
    answer = pb.GenerateResponse(index=out.index)
    if parser is None:
        answer.content = out.text
    else:
        parser.set_prompt_token_ids(prompt_ids)
        reasoning, content, calls = parser.parse(
            out.text, p.chat, enable_auto_tools=auto_tools, model_output_token_ids=token_ids
        )
        answer.content = content or ""
        answer.reasoning_content = reasoning or ""
        answer.tool_calls.extend(whole_tool_calls(calls))
    if p.chat.logprobs:
        answer.logprobs.extend(_logprobs(p, token_ids, out.logprobs))
    answer.finish_reason = finish_reason(out.finish_reason, bool(answer.tool_calls), p)
    return answer


def finish_reason(reason: str | None, called_tools: bool, p: PreparedRequest) -> pb.FinishReason:
    # As vLLM's server: tool calls end with "tool_calls", except for a named tool choice ("stop", like OpenAI).
    if called_tools and not p.named_tool and reason == "stop":
        return pb.FINISH_REASON_TOOL_CALLS
    if reason == "abort":
        raise Unavailable("the engine aborted the request", code="aborted")
    return finish_reason_number(reason or "stop")


def usage(p: PreparedRequest, output: RequestOutput, answers: list[list[int]]) -> types_pb2.Usage:
    """The prompt counts once however many answers there are (as in vLLM's server)."""
    parser = p.parsers[0]
    reasoning = sum(parser.count_reasoning_tokens(ids) for ids in answers) if parser is not None else 0
    prompt_ids = output.prompt_token_ids
    prompt_tokens = len(prompt_ids) if prompt_ids is not None else len(p.prompt_ids)
    completion_tokens = sum(len(ids) for ids in answers)
    return types_pb2.Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
        prompt_tokens_details=types_pb2.PromptTokensDetails(cached_tokens=output.num_cached_tokens or 0),
        completion_tokens_details=types_pb2.CompletionTokensDetails(reasoning_tokens=reasoning),
    )


def carries_something(step: pb.GenerateResponse) -> bool:
    return bool(step.content or step.reasoning_content or step.tool_calls or step.logprobs or step.finish_reason)


def _logprobs(p: PreparedRequest, token_ids: list[int], steps: Any) -> list[types_pb2.TokenLogprob]:
    return convert_logprobs(token_ids, steps, p.chat.top_logprobs or 0, p.tokenizer)
