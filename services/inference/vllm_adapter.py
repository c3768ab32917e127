"""Translation between the domain dataclasses and vLLM's OpenAI-server types.

We build vLLM's own `ChatCompletionRequest` so that its renderer (chat template with tools, developer role,
chat_template_kwargs), its tool-choice structural tags and its sampling-parameter mapping run exactly as
in `vllm serve`; these helpers only convert shapes and errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pydantic
from vllm.entrypoints.generate.base.protocol import DeltaMessage, FunctionCall
from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
from vllm.exceptions import VLLMValidationError
from vllm.renderers.chat_utils import make_tool_call_id

from services.common.errors import InvalidArgument
from services.inference.domain import GenerationRequest, TokenLogprob, ToolCallDelta, TopLogprob

# vLLM's names for fields that our API calls differently.
_PARAM_ALIASES = {
    "input_tokens": "messages",
    "max_model_len": "messages",
    "max_completion_tokens": "max_tokens",
}


def to_chat_request(req: GenerationRequest, *, stream: bool) -> ChatCompletionRequest:
    """Build vLLM's request object; pydantic and vLLM validators become InvalidArgument."""
    s = req.sampling
    data: dict[str, Any] = {
        "model": req.model,
        "messages": [dict(m) for m in req.messages],  # vLLM normalizes messages in place
        "stream": stream,
        "n": s.n,
        "temperature": s.temperature,
        "top_p": s.top_p,
        "top_k": s.top_k,
        "min_p": s.min_p,
        "seed": s.seed,
        "stop": list(s.stop),
        "presence_penalty": s.presence_penalty,
        "frequency_penalty": s.frequency_penalty,
        "repetition_penalty": s.repetition_penalty,
        "logprobs": s.logprobs,
        "top_logprobs": s.top_logprobs or 0,
        # max_tokens stays unset here: the engine checks it against the templated prompt itself.
    }
    if s.logit_bias:
        data["logit_bias"] = {str(k): v for k, v in s.logit_bias.items()}
    if s.ignore_eos is not None:
        data["ignore_eos"] = s.ignore_eos
    if s.min_tokens is not None:
        data["min_tokens"] = s.min_tokens
    if req.tools is not None:
        data["tools"] = req.tools
    if req.tool_choice is not None:
        data["tool_choice"] = req.tool_choice
    if req.parallel_tool_calls is not None:
        data["parallel_tool_calls"] = req.parallel_tool_calls
    if req.response_format is not None:
        data["response_format"] = req.response_format
    if req.structured_outputs is not None:
        data["structured_outputs"] = dict(req.structured_outputs)
    if req.chat_template_kwargs:
        data["chat_template_kwargs"] = dict(req.chat_template_kwargs)
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


def invalid_argument(e: Exception, default_param: str | None = None) -> InvalidArgument:
    """InvalidArgument from a vLLM client error, keeping its parameter name in our vocabulary."""
    param = getattr(e, "parameter", None) or default_param
    message = e.args[0] if e.args else str(e)
    return InvalidArgument(str(message), param=_PARAM_ALIASES.get(param, param) if param else None)


def _loc(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part.startswith(("function-", "str", "list[", "dict[", "Chat", "Custom")):
            # pydantic puts union-member names in the path; they mean nothing to a caller
            out += f".{part}" if out else part
    return out


def tool_call_deltas(msg: DeltaMessage) -> list[ToolCallDelta]:
    out = []
    for tc in msg.tool_calls:
        fn = tc.function
        out.append(
            ToolCallDelta(
                index=tc.index,
                id=tc.id,
                name=fn.name if fn is not None else None,
                arguments=(fn.arguments or "") if fn is not None else "",
            )
        )
    return out


def whole_tool_calls(calls: list[FunctionCall] | None) -> list[ToolCallDelta]:
    return [
        ToolCallDelta(index=i, id=c.id or make_tool_call_id(), name=c.name, arguments=c.arguments)
        for i, c in enumerate(calls or [])
    ]


def convert_logprobs(
    token_ids: Sequence[int], steps: Sequence[Any] | None, top_n: int, tokenizer: Any
) -> list[TokenLogprob]:
    """vLLM per-token logprob dicts → OpenAI-style entries (top list ordered by rank)."""
    if not steps:
        return []
    out = []
    for token_id, step in zip(token_ids, steps, strict=False):
        chosen = step.get(token_id) if step is not None else None
        if chosen is None:
            text = tokenizer.decode([token_id])
            out.append(TokenLogprob(token=text, logprob=-9999.0, bytes=_utf8(text)))
            continue
        text = _decoded(chosen, token_id, tokenizer)
        top = sorted(
            ((tid, lp) for tid, lp in step.items() if lp.rank is not None and lp.rank <= top_n),
            key=lambda item: item[1].rank,
        )
        out.append(
            TokenLogprob(
                token=text,
                logprob=max(chosen.logprob, -9999.0),
                bytes=_utf8(text),
                top_logprobs=[
                    TopLogprob(
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
