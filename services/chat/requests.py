"""Validation of OpenAI chat completion requests: the JSON body (as a dict) becomes a ChatRequest, or an
InvalidArgument naming the field. Fields vLLM cannot honour are refused by name, never dropped."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from services.chat.domain import ChatRequest, Sampling
from services.common.errors import InvalidArgument

# Declared OpenAI fields we refuse, with why. Sending them with a null/empty value is fine.
UNSUPPORTED = {
    "audio": "audio output is not supported",
    "prediction": "predicted outputs are not supported",
    "web_search_options": "web_search_options is not supported on this endpoint",
    "functions": "'functions' is deprecated and not supported; use 'tools'",
    "function_call": "'function_call' is deprecated and not supported; use 'tool_choice'",
    "verbosity": "verbosity is not supported",
}
ROLES = ("system", "developer", "user", "assistant", "tool")
MAX_CHOICES = 128  # OpenAI's bound for n
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CONTENT_PART_TYPES = {"text", "input_text", "image_url", "input_audio", "file", "refusal"}


def _fail(message: str, param: str) -> InvalidArgument:
    return InvalidArgument(message, param=param)


def reject_unknown_fields(sent: Iterable[str], known: Iterable[str]) -> None:
    """The transcoder drops JSON fields it does not know; Envoy's Lua step tells us which top-level keys
    the client sent, so an unknown one gets OpenAI's own error instead of being ignored."""
    known_set = set(known)
    for key in sent:
        if key and key not in known_set:
            raise _fail(f"Unrecognized request argument supplied: {key}", key)


def _number(
    body: dict[str, Any], name: str, low: float | None, high: float | None, *, low_open: bool = False
) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if (low is not None and (value < low or (low_open and value == low))) or (high is not None and value > high):
        lo = "(" if low_open else "["
        raise _fail(f"{name} must be in {lo}{low}, {high}], got {value}", name)
    return value


def _positive_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if int(value) < 1:
        raise _fail(f"{name} must be at least 1, got {value}", name)
    return int(value)


def _stop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise _fail("stop must be a non-empty string or a list of non-empty strings", "stop")
    if len(stops) > 4:
        raise _fail("stop takes at most 4 sequences", "stop")
    return tuple(stops)


def _validate_content(content: Any, param: str, role: str) -> None:
    if content is None:
        if role not in ("assistant",):
            raise _fail(f"{param} is required for role '{role}'", param)
        return
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise _fail(f"{param} must be a string or a list of content parts", param)
    for j, part in enumerate(content):
        where = f"{param}[{j}]"
        if not isinstance(part, dict) or part.get("type") not in _CONTENT_PART_TYPES:
            raise _fail(f"{where} must be a content part with a type such as 'text'", f"{where}.type")
        if part["type"] in ("text", "input_text") and not isinstance(part.get("text"), str):
            raise _fail(f"{where}.text must be a string", f"{where}.text")


def _messages(value: Any) -> list[dict[str, Any]]:
    if not value:
        raise _fail("messages must be a non-empty list", "messages")
    messages: list[dict[str, Any]] = []
    for i, message in enumerate(value):
        param = f"messages[{i}]"
        role = message.get("role")
        if role not in ROLES:
            raise _fail(f"{param}.role must be one of {', '.join(ROLES)}, got {role!r}", f"{param}.role")
        _validate_content(message.get("content"), f"{param}.content", role)
        if role == "tool" and not message.get("tool_call_id"):
            raise _fail(f"{param}.tool_call_id is required for role 'tool'", f"{param}.tool_call_id")
        cleaned = {k: v for k, v in message.items() if v not in (None, [], "") or k == "content"}
        if "reasoning" in cleaned and "reasoning_content" not in cleaned:
            cleaned["reasoning_content"] = cleaned.pop("reasoning")
        cleaned.pop("reasoning", None)
        messages.append(cleaned)
    return messages


def _tools(value: Any) -> list[dict[str, Any]]:
    tools = value or []
    for i, tool in enumerate(tools):
        if tool.get("type", "function") != "function":
            raise _fail(f"tools[{i}].type must be 'function'", f"tools[{i}].type")
        function = tool.get("function") or {}
        if not _FUNCTION_NAME.match(function.get("name", "")):
            raise _fail(f"tools[{i}].function.name must match ^[A-Za-z0-9_-]{{1,64}}$", f"tools[{i}].function.name")
        params = function.get("parameters")
        if params is not None and (not isinstance(params, dict) or params.get("type", "object") != "object"):
            raise _fail(
                f"tools[{i}].function.parameters must be a JSON Schema object", f"tools[{i}].function.parameters"
            )
        tool.setdefault("type", "function")
    return tools


def _tool_choice(value: Any, tools: list[dict[str, Any]]) -> str | dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in ("none", "auto", "required"):
            raise _fail("tool_choice must be 'none', 'auto', 'required' or a named function", "tool_choice")
        if value == "required" and not tools:
            raise _fail("tool_choice 'required' needs tools", "tool_choice")
        return value
    name = (value.get("function") or {}).get("name") if isinstance(value, dict) else None
    if not name or value.get("type", "function") != "function":
        raise _fail('tool_choice must be {"type": "function", "function": {"name": ...}}', "tool_choice")
    if name not in {t["function"]["name"] for t in tools}:
        raise _fail(f"tool_choice names function '{name}', which is not in tools", "tool_choice")
    return {"type": "function", "function": {"name": name}}


def _response_format(value: Any) -> dict[str, Any] | None:
    if not value:
        return None
    kind = value.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise _fail("response_format.type must be 'text', 'json_object' or 'json_schema'", "response_format.type")
    if kind == "json_schema":
        schema = (value.get("json_schema") or {}).get("schema")
        if not isinstance(schema, dict):
            raise _fail("response_format.json_schema.schema is required", "response_format.json_schema.schema")
    return None if kind == "text" else value


def _logit_bias(value: Any) -> dict[int, float]:
    bias: dict[int, float] = {}
    for token, weight in (value or {}).items():
        if not str(token).isdigit():
            raise _fail(f"logit_bias keys must be token ids, got {token!r}", "logit_bias")
        if not -100 <= weight <= 100:
            raise _fail("logit_bias values must be in [-100, 100]", "logit_bias")
        bias[int(token)] = float(weight)
    return bias


def _choices(value: Any) -> int:
    if value is None:
        return 1
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_CHOICES:
        raise _fail(f"n must be an integer in [1, {MAX_CHOICES}]", "n")
    return value


def _refuse_unsupported(body: dict[str, Any]) -> None:
    for name, why in UNSUPPORTED.items():
        if body.get(name) not in (None, {}, [], ""):
            raise _fail(why, name)
    if body.get("store"):
        raise _fail("store=true is not supported; use the Conversations API to keep chats", "store")
    if body.get("modalities") not in (None, [], ["text"]):
        raise _fail("only the 'text' modality is supported", "modalities")
    if body.get("service_tier") not in (None, "auto", "default"):
        raise _fail("service_tier must be 'auto' or 'default'", "service_tier")


def parse_chat_request(body: dict[str, Any], *, stream: bool) -> ChatRequest:
    """Validates an OpenAI chat completion body. `stream` is which RPC received it."""
    _refuse_unsupported(body)
    model = body.get("model")
    if not model:
        raise _fail("model is required", "model")
    if body.get("stream_options") and not stream:
        raise _fail("stream_options is only allowed when stream is true", "stream_options")
    logprobs = bool(body.get("logprobs"))
    top_logprobs = body.get("top_logprobs")
    if top_logprobs is not None:
        if not 0 <= top_logprobs <= 20:
            raise _fail("top_logprobs must be in [0, 20]", "top_logprobs")
        if not logprobs:
            raise _fail("top_logprobs requires logprobs to be true", "top_logprobs")
    max_tokens = _positive_int(body, "max_completion_tokens") or _positive_int(body, "max_tokens")
    tools = _tools(body.get("tools"))
    chat_template_kwargs = dict(body.get("chat_template_kwargs") or {})
    if body.get("reasoning_effort"):
        chat_template_kwargs.setdefault("reasoning_effort", body["reasoning_effort"])
    seed = body.get("seed")
    sampling = Sampling(
        temperature=_number(body, "temperature", 0, 2),
        top_p=_number(body, "top_p", 0, 1, low_open=True),
        top_k=body.get("top_k"),
        min_p=_number(body, "min_p", 0, 1),
        max_tokens=max_tokens,
        min_tokens=body.get("min_tokens"),
        stop=_stop(body.get("stop")),
        seed=int(seed) if seed is not None else None,
        presence_penalty=_number(body, "presence_penalty", -2, 2),
        frequency_penalty=_number(body, "frequency_penalty", -2, 2),
        repetition_penalty=_number(body, "repetition_penalty", 0, None, low_open=True),
        logprobs=logprobs,
        top_logprobs=top_logprobs,
        logit_bias=_logit_bias(body.get("logit_bias")),
        ignore_eos=bool(body.get("ignore_eos")),
        n=_choices(body.get("n")),
    )
    return ChatRequest(
        model=model,
        messages=_messages(body.get("messages")),
        sampling=sampling,
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice"), tools),
        parallel_tool_calls=body.get("parallel_tool_calls", True) is not False,
        response_format=_response_format(body.get("response_format")),
        structured_outputs=body.get("structured_outputs") or None,
        chat_template_kwargs=chat_template_kwargs or None,
        stream=stream,
        include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
        user=body.get("user") or body.get("safety_identifier"),
        metadata=dict(body.get("metadata") or {}),
    )
