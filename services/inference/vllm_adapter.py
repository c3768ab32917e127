"""Translation between the jan.v1 messages and vLLM's OpenAI-server types.

We build vLLM's own `ChatCompletionRequest` so that its renderer (chat template with tools, developer role,
chat_template_kwargs), its tool-choice structural tags and its sampling-parameter mapping run exactly as
in `vllm serve`; these helpers only convert shapes and errors.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pydantic
from vllm.entrypoints.generate.base.protocol import DeltaMessage, FunctionCall
from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
from vllm.exceptions import VLLMValidationError
from vllm.renderers.chat_utils import make_tool_call_id

from jan.v1 import inference_service_pb2 as pb
from jan.v1 import types_pb2
from services.common.errors import InvalidArgument
from services.inference import convert
from services.inference.domain import answer_count

CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"  # OpenAI's code for a prompt too long for the model
# vLLM's names for fields that our API calls differently.
_PARAM_ALIASES = {
    "input_tokens": "messages",
    "max_model_len": "messages",
    "max_completion_tokens": "max_tokens",
}


def to_chat_request(request: pb.GenerateRequest, *, stream: bool) -> ChatCompletionRequest:
    """Build vLLM's request object from ours; pydantic and vLLM validators become InvalidArgument."""
    data: dict[str, Any] = {
        "model": request.model,
        "messages": [convert.message_dict(m) for m in request.messages],
        "stream": stream,
        **convert.sampling_dict(request.sampling),
        "n": answer_count(request.sampling),
        # max_tokens stays unset here: the engine checks it against the templated prompt itself.
    }
    if request.tools:
        data["tools"] = [convert.tool_dict(t) for t in request.tools]
    tool_choice = convert.tool_choice_value(request.tool_choice)
    if tool_choice is not None:
        data["tool_choice"] = tool_choice
    if request.HasField("parallel_tool_calls"):
        data["parallel_tool_calls"] = request.parallel_tool_calls
    if request.HasField("response_format"):
        data["response_format"] = convert.response_format_dict(request.response_format)
    if request.HasField("structured_outputs"):
        data["structured_outputs"] = convert.structured_outputs_dict(request.structured_outputs)
    if request.chat_template_kwargs.fields:
        data["chat_template_kwargs"] = convert.struct_dict(request.chat_template_kwargs)
    try:
        return ChatCompletionRequest.model_validate(data)
    except VLLMValidationError as e:
        raise invalid_argument(e) from None
    except pydantic.ValidationError as e:
        err = e.errors()[0]
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, VLLMValidationError):
            raise invalid_argument(cause) from None
        raise InvalidArgument(f"{_loc(err['loc'])}: {err['msg']}", param=_loc(err["loc"]) or None) from None


def compact_tool_calls(chat: ChatCompletionRequest) -> None:
    """Allows at most one whitespace character in a row in the JSON of the tool-call grammar vLLM's parser
    put on `chat` (its structural tag), as compact_json does for JSON formats: vLLM applies
    disable_any_whitespace to those only. A small model held to a tool call otherwise pads its arguments
    with whitespace until max_tokens. (One, not none: xgrammar refuses 0; `{"query": "x"}` keeps its spaces.)"""
    constraints = chat.structured_outputs
    if constraints is None or constraints.structural_tag is None:
        return
    tag = json.loads(constraints.structural_tag)
    _without_free_whitespace(tag)
    constraints.structural_tag = json.dumps(tag)


def _without_free_whitespace(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "json_schema":  # a format of the tag; its schema is the caller's, left alone
            node["max_whitespace_cnt"] = 1
            return
        for value in node.values():
            _without_free_whitespace(value)
    elif isinstance(node, list):
        for value in node:
            _without_free_whitespace(value)


def invalid_argument(e: Exception, default_param: str | None = None) -> InvalidArgument:
    """InvalidArgument from a vLLM client error, keeping its parameter name in our vocabulary."""
    param = getattr(e, "parameter", None) or default_param
    message = e.args[0] if e.args else str(e)
    code = CONTEXT_LENGTH_EXCEEDED if param in ("input_tokens", "max_model_len") else None
    return InvalidArgument(str(message), param=_PARAM_ALIASES.get(param, param) if param else None, code=code)


def _loc(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part.startswith(("function-", "str", "list[", "dict[", "Chat", "Custom")):
            # pydantic puts union-member names in the path; they mean nothing to a caller
            out += f".{part}" if out else part
    return out


def tool_call_deltas(msg: DeltaMessage) -> list[types_pb2.ToolCallDelta]:
    out = []
    for tc in msg.tool_calls:
        piece = types_pb2.ToolCallDelta(index=tc.index, id=tc.id)
        if tc.id:
            piece.type = "function"
        fn = tc.function
        if fn is not None:
            piece.function.arguments = fn.arguments or ""
            if fn.name is not None:
                piece.function.name = fn.name
        else:
            piece.function.arguments = ""
        out.append(piece)
    return out


def whole_tool_calls(calls: list[FunctionCall] | None) -> list[types_pb2.ToolCallDelta]:
    return [
        types_pb2.ToolCallDelta(
            index=i,
            id=c.id or make_tool_call_id(),
            type="function",
            function=types_pb2.FunctionCallDelta(name=c.name, arguments=c.arguments),
        )
        for i, c in enumerate(calls or [])
    ]


def convert_logprobs(
    token_ids: Sequence[int], steps: Sequence[Any] | None, top_n: int, tokenizer: Any
) -> list[types_pb2.TokenLogprob]:
    """vLLM per-token logprob dicts → OpenAI-style entries (top list ordered by rank)."""
    if not steps:
        return []
    out = []
    for token_id, step in zip(token_ids, steps, strict=False):
        chosen = step.get(token_id) if step is not None else None
        if chosen is None:
            text = tokenizer.decode([token_id])
            out.append(types_pb2.TokenLogprob(token=text, logprob=-9999.0, bytes=_utf8(text)))
            continue
        text = _decoded(chosen, token_id, tokenizer)
        top = sorted(
            ((tid, lp) for tid, lp in step.items() if lp.rank is not None and lp.rank <= top_n),
            key=lambda item: item[1].rank,
        )
        out.append(
            types_pb2.TokenLogprob(
                token=text,
                logprob=max(chosen.logprob, -9999.0),
                bytes=_utf8(text),
                top_logprobs=[
                    types_pb2.TopLogprob(
                        token=(t := _decoded(lp, tid, tokenizer)), logprob=max(lp.logprob, -9999.0), bytes=_utf8(t)
                    )
                    for tid, lp in top
                ],
            )
        )
    return out


def _decoded(lp: Any, token_id: int, tokenizer: Any) -> str:
    return lp.decoded_token if lp.decoded_token is not None else tokenizer.decode([token_id])


def _utf8(text: str) -> list[int]:
    return list(text.encode("utf-8", errors="replace"))
