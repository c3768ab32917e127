"""Checks on a GenerationRequest that need no model, each failing with the offending field as `param`.

Checks that need the tokenizer or the context length (prompt length, max_tokens fit, token ids) live in
the engine, after the chat template is applied.
"""

from __future__ import annotations

import math
import re
from typing import Any

import jsonschema
import jsonschema.exceptions

from services.common.errors import InvalidArgument
from services.inference.domain import ROLES, GenerationRequest, SamplingOptions

_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_STRUCTURED_KINDS = ("regex", "json", "choice", "grammar")
# vLLM StructuredOutputsParams flags that may ride along with one constraint.
_STRUCTURED_FLAGS = frozenset({"disable_any_whitespace", "disable_additional_properties", "whitespace_pattern"})
_MAX_TOP_LOGPROBS = 20
MAX_CHOICES = 128  # OpenAI's bound for n


def validate_request(req: GenerationRequest) -> None:
    validate_messages(req.messages)
    validate_tools(req.tools, req.tool_choice)
    validate_response_format(req.response_format)
    validate_structured_outputs(req.structured_outputs)
    if req.response_format not in (None, {"type": "text"}) and req.structured_outputs:
        raise InvalidArgument("response_format and structured_outputs cannot be combined", param="structured_outputs")
    if req.chat_template_kwargs is not None and not isinstance(req.chat_template_kwargs, dict):
        raise InvalidArgument("chat_template_kwargs must be an object", param="chat_template_kwargs")
    validate_sampling(req.sampling)


def validate_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise InvalidArgument("messages must be a non-empty array", param="messages")
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise InvalidArgument(f"{where} must be an object", param=where)
        role = msg.get("role")
        if role not in ROLES:
            raise InvalidArgument(
                f"{where}.role must be one of {', '.join(sorted(ROLES))}, got {role!r}", param=f"{where}.role"
            )
        content = msg.get("content")
        # Only an assistant turn that calls tools may leave content out.
        if content is None and not (role == "assistant" and msg.get("tool_calls")):
            raise InvalidArgument(f"{where}.content is required for role {role!r}", param=f"{where}.content")
        if content is not None:
            _validate_content(content, f"{where}.content")
        if role == "tool" and not isinstance(msg.get("tool_call_id"), str):
            raise InvalidArgument(f"{where}.tool_call_id is required for role 'tool'", param=f"{where}.tool_call_id")
        if msg.get("tool_calls") is not None:
            _validate_message_tool_calls(msg["tool_calls"], f"{where}.tool_calls", role)


def _validate_content(content: Any, where: str) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise InvalidArgument(f"{where} must be a string or an array of content parts", param=where)
    for j, part in enumerate(content):
        if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
            # The served models are text-only; images or audio would be silently dropped otherwise.
            raise InvalidArgument(
                f"{where}[{j}] must be a text part {{type: 'text', text: ...}}", param=f"{where}[{j}]"
            )


def _validate_message_tool_calls(tool_calls: Any, where: str, role: str) -> None:
    if role != "assistant":
        raise InvalidArgument(f"{where} is only allowed on assistant messages", param=where)
    if not isinstance(tool_calls, list):
        raise InvalidArgument(f"{where} must be an array", param=where)
    for k, call in enumerate(tool_calls):
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise InvalidArgument(f"{where}[{k}].function.name is required", param=f"{where}[{k}].function.name")
        if not isinstance(fn.get("arguments", ""), str):
            raise InvalidArgument(
                f"{where}[{k}].function.arguments must be a JSON string", param=f"{where}[{k}].function.arguments"
            )


def validate_tools(tools: Any, tool_choice: Any) -> None:
    names: set[str] = set()
    if tools is not None:
        if not isinstance(tools, list) or not tools:
            raise InvalidArgument("tools must be a non-empty array when given", param="tools")
        for i, tool in enumerate(tools):
            names.add(_validate_tool(tool, f"tools[{i}]"))
    if tool_choice is None or tool_choice == "none":
        return
    if tool_choice in ("auto", "required"):
        if tools is None:
            raise InvalidArgument(f"tool_choice {tool_choice!r} needs tools", param="tool_choice")
        return
    if isinstance(tool_choice, dict) and tool_choice.get("type") == "function":
        name = (tool_choice.get("function") or {}).get("name")
        if name not in names:
            raise InvalidArgument(f"tool_choice names function {name!r}, which is not in tools", param="tool_choice")
        return
    raise InvalidArgument(
        "tool_choice must be 'none', 'auto', 'required' or {type: 'function', function: {name}}", param="tool_choice"
    )


def _validate_tool(tool: Any, where: str) -> str:
    if not isinstance(tool, dict) or tool.get("type", "function") != "function":
        raise InvalidArgument(f"{where} must be {{type: 'function', function: {{...}}}}", param=f"{where}.type")
    fn = tool.get("function")
    if not isinstance(fn, dict):
        raise InvalidArgument(f"{where}.function must be an object", param=f"{where}.function")
    name = fn.get("name")
    if not isinstance(name, str) or not _TOOL_NAME.match(name):
        raise InvalidArgument(
            f"{where}.function.name must be 1-64 letters, digits, '_' or '-'", param=f"{where}.function.name"
        )
    if "parameters" in fn and fn["parameters"] is not None:
        check_json_schema(fn["parameters"], f"{where}.function.parameters", require_object=True)
    return name


def check_json_schema(schema: Any, param: str, *, require_object: bool = False) -> None:
    """Reject anything that is not a valid JSON Schema (checked against its own metaschema)."""
    if not isinstance(schema, dict):
        raise InvalidArgument(f"{param} must be a JSON Schema object", param=param)
    if require_object and schema.get("type", "object") != "object":
        raise InvalidArgument(f"{param} must describe an object (type 'object')", param=param)
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.exceptions.SchemaError as e:
        raise InvalidArgument(f"{param} is not a valid JSON Schema: {e.message}", param=param) from None


def validate_response_format(rf: Any) -> None:
    if rf is None:
        return
    kind = rf.get("type") if isinstance(rf, dict) else None
    if kind in ("text", "json_object"):
        return
    if kind != "json_schema":
        raise InvalidArgument(
            "response_format.type must be text, json_object or json_schema", param="response_format.type"
        )
    js = rf.get("json_schema")
    if not isinstance(js, dict) or not isinstance(js.get("name", ""), str):
        raise InvalidArgument("response_format.json_schema must be an object", param="response_format.json_schema")
    check_json_schema(js.get("schema", {}), "response_format.json_schema.schema")


def validate_structured_outputs(so: Any) -> None:
    if so is None:
        return
    if not isinstance(so, dict):
        raise InvalidArgument("structured_outputs must be an object", param="structured_outputs")
    unknown = set(so) - set(_STRUCTURED_KINDS) - _STRUCTURED_FLAGS
    if unknown:
        raise InvalidArgument(f"structured_outputs has unknown fields {sorted(unknown)}", param="structured_outputs")
    given = [k for k in _STRUCTURED_KINDS if so.get(k) is not None]
    if len(given) != 1:
        raise InvalidArgument(
            "structured_outputs needs exactly one of regex, json, choice, grammar", param="structured_outputs"
        )
    kind = given[0]
    value = so[kind]
    if kind in ("regex", "grammar") and (not isinstance(value, str) or not value):
        raise InvalidArgument(
            f"structured_outputs.{kind} must be a non-empty string", param=f"structured_outputs.{kind}"
        )
    if kind == "choice" and (not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value)):
        raise InvalidArgument(
            "structured_outputs.choice must be a non-empty array of strings", param="structured_outputs.choice"
        )
    if kind == "json" and not isinstance(value, str):
        check_json_schema(value, "structured_outputs.json")


def validate_sampling(s: SamplingOptions) -> None:
    _range(s.temperature, "temperature", 0.0, 2.0)
    if s.top_p is not None and not (_finite(s.top_p) and 0.0 < s.top_p <= 1.0):
        raise InvalidArgument(f"top_p must be in (0, 1], got {s.top_p}", param="top_p")
    if s.top_k is not None and s.top_k < -1:
        raise InvalidArgument(f"top_k must be -1, 0 (off) or positive, got {s.top_k}", param="top_k")
    _range(s.min_p, "min_p", 0.0, 1.0)
    _range(s.presence_penalty, "presence_penalty", -2.0, 2.0)
    _range(s.frequency_penalty, "frequency_penalty", -2.0, 2.0)
    if s.repetition_penalty is not None and not (_finite(s.repetition_penalty) and 0.0 < s.repetition_penalty <= 2.0):
        raise InvalidArgument(
            f"repetition_penalty must be in (0, 2], got {s.repetition_penalty}", param="repetition_penalty"
        )
    if s.max_tokens is not None and s.max_tokens < 1:
        raise InvalidArgument(f"max_tokens must be at least 1, got {s.max_tokens}", param="max_tokens")
    if s.min_tokens is not None:
        if s.min_tokens < 0:
            raise InvalidArgument(f"min_tokens must be at least 0, got {s.min_tokens}", param="min_tokens")
        if s.max_tokens is not None and s.min_tokens > s.max_tokens:
            raise InvalidArgument("min_tokens cannot exceed max_tokens", param="min_tokens")
    if not isinstance(s.stop, list) or not all(isinstance(x, str) and x for x in s.stop):
        raise InvalidArgument("stop must be an array of non-empty strings", param="stop")
    if not isinstance(s.n, int) or not 1 <= s.n <= MAX_CHOICES:
        raise InvalidArgument(f"n must be in [1, {MAX_CHOICES}], got {s.n}", param="n")
    if s.n > 1 and s.temperature == 0:  # vLLM refuses it: greedy decoding would give n identical answers
        raise InvalidArgument("n > 1 needs sampling: set temperature above 0", param="n")
    if s.top_logprobs is not None:
        if not 0 <= s.top_logprobs <= _MAX_TOP_LOGPROBS:
            raise InvalidArgument(f"top_logprobs must be in [0, {_MAX_TOP_LOGPROBS}]", param="top_logprobs")
        if s.top_logprobs > 0 and not s.logprobs:
            raise InvalidArgument("top_logprobs requires logprobs to be true", param="top_logprobs")
    for token_id, bias in (s.logit_bias or {}).items():
        if not isinstance(token_id, int) or token_id < 0:
            raise InvalidArgument(f"logit_bias key {token_id!r} is not a token id", param="logit_bias")
        if not (_finite(bias) and -100.0 <= bias <= 100.0):
            raise InvalidArgument(f"logit_bias values must be in [-100, 100], got {bias}", param="logit_bias")


def _finite(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _range(value: float | None, param: str, lo: float, hi: float) -> None:
    if value is not None and not (_finite(value) and lo <= value <= hi):
        raise InvalidArgument(f"{param} must be in [{lo:g}, {hi:g}], got {value}", param=param)
