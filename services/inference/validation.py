"""Checks on a GenerateRequest that need no model, each failing with the offending field as `param`.

This is the one place these rules live: the chat service passes OpenAI's messages, tools, formats and
sampling fields through unchecked, so a bad value gets the same message and `param` whether it came through
chat completions or straight to this service. Checks that need the tokenizer or the context length (prompt
length, max_tokens fit, token ids) live in the engine, after the chat template is applied.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

import jsonschema
import jsonschema.exceptions
from google.protobuf import struct_pb2

from jan.v1 import inference_service_pb2 as pb
from jan.v1 import types_pb2
from services.common.errors import InvalidArgument
from services.inference.convert import struct_dict
from services.inference.domain import MAX_CHOICES, MAX_TOP_LOGPROBS, ROLES, answer_count

_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_TOOL_CHOICE_MODES = ("none", "auto", "required")
_RESPONSE_FORMATS = ("text", "json_object", "json_schema")


def validate_request(request: pb.GenerateRequest) -> None:
    if not request.model:
        raise InvalidArgument("model is required", param="model")
    validate_messages(request.messages)
    if request.truncatable_messages > len(request.messages):
        raise InvalidArgument("truncatable_messages cannot exceed the number of messages", param="truncatable_messages")
    validate_tools(request.tools, request.tool_choice)
    if request.HasField("response_format"):
        validate_response_format(request.response_format)
    if request.HasField("structured_outputs"):
        validate_structured_outputs(request.structured_outputs)
        if request.HasField("response_format") and request.response_format.type != "text":
            raise InvalidArgument(
                "response_format and structured_outputs cannot be combined", param="structured_outputs"
            )
    validate_sampling(request.sampling)


def validate_messages(messages: Any) -> None:
    if not messages:
        raise InvalidArgument("messages must be a non-empty array", param="messages")
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if message.role not in ROLES:
            raise InvalidArgument(
                f"{where}.role must be one of {', '.join(ROLES)}, got {message.role!r}", param=f"{where}.role"
            )
        kind = message.content.WhichOneof("kind") if message.HasField("content") else None
        if kind in (None, "null_value"):
            # Only an assistant turn that calls tools may leave content out.
            if not (message.role == "assistant" and message.tool_calls):
                raise InvalidArgument(
                    f"{where}.content is required for role {message.role!r}", param=f"{where}.content"
                )
        elif kind == "list_value":
            _validate_parts(message.content.list_value, f"{where}.content")
        elif kind != "string_value":
            raise InvalidArgument(
                f"{where}.content must be a string or an array of content parts", param=f"{where}.content"
            )
        if message.role == "tool" and not message.tool_call_id:
            raise InvalidArgument(f"{where}.tool_call_id is required for role 'tool'", param=f"{where}.tool_call_id")
        if message.tool_calls:
            _validate_message_tool_calls(message, f"{where}.tool_calls")


def _validate_parts(parts: struct_pb2.ListValue, where: str) -> None:
    for j, part in enumerate(parts.values):
        fields = part.struct_value.fields if part.WhichOneof("kind") == "struct_value" else None
        kind = fields["type"].string_value if fields is not None and "type" in fields else None
        if kind != "text":
            # The served models read text only; an image or audio part would otherwise be dropped unseen.
            raise InvalidArgument(
                f"{where}[{j}] must be a text part {{type: 'text', text: ...}}; this model reads text only"
                + (f", not {kind!r}" if kind else ""),
                param=f"{where}[{j}].type",
            )
        if fields is None or fields["text"].WhichOneof("kind") != "string_value":
            raise InvalidArgument(f"{where}[{j}].text must be a string", param=f"{where}[{j}].text")


def _validate_message_tool_calls(message: types_pb2.ChatMessage, where: str) -> None:
    if message.role != "assistant":
        raise InvalidArgument(f"{where} is only allowed on assistant messages", param=where)
    for k, call in enumerate(message.tool_calls):
        if not call.function.name:
            raise InvalidArgument(f"{where}[{k}].function.name is required", param=f"{where}[{k}].function.name")


def validate_tools(tools: Any, tool_choice: pb.ToolChoice) -> None:
    names = {_validate_tool(tool, f"tools[{i}]") for i, tool in enumerate(tools)}
    kind = tool_choice.WhichOneof("choice")
    if kind == "mode":
        if tool_choice.mode not in _TOOL_CHOICE_MODES:
            raise InvalidArgument(
                "tool_choice must be 'none', 'auto', 'required' or {type: 'function', function: {name}}",
                param="tool_choice",
            )
        if tool_choice.mode != "none" and not tools:
            raise InvalidArgument(f"tool_choice {tool_choice.mode!r} needs tools", param="tool_choice")
    elif kind == "function_name" and tool_choice.function_name not in names:
        raise InvalidArgument(
            f"tool_choice names function {tool_choice.function_name!r}, which is not in tools", param="tool_choice"
        )


def _validate_tool(tool: types_pb2.Tool, where: str) -> str:
    if tool.type not in ("", "function"):
        raise InvalidArgument(f"{where}.type must be 'function'", param=f"{where}.type")
    name = tool.function.name
    if not _TOOL_NAME.match(name):
        raise InvalidArgument(
            f"{where}.function.name must be 1-64 letters, digits, '_' or '-'", param=f"{where}.function.name"
        )
    if tool.function.HasField("parameters"):
        check_json_schema(tool.function.parameters, f"{where}.function.parameters", require_object=True)
    return name


def check_json_schema(schema: struct_pb2.Struct, param: str, *, require_object: bool = False) -> None:
    """Refuses anything that is not a valid JSON Schema (checked against its own metaschema). The check
    costs ~1 ms per tool on a small schema, and clients send the same tools with every request, so the
    verdict is cached by the schema's bytes."""
    problem = _schema_problem(schema.SerializeToString(deterministic=True), require_object)
    if problem:
        raise InvalidArgument(f"{param} {problem}", param=param)


@functools.lru_cache(maxsize=1024)
def _schema_problem(serialized: bytes, require_object: bool) -> str | None:
    schema = struct_dict(struct_pb2.Struct.FromString(serialized))
    if require_object and schema.get("type", "object") != "object":
        return "must describe an object (type 'object')"
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.exceptions.SchemaError as e:
        return f"is not a valid JSON Schema: {e.message}"
    return None


def validate_response_format(response_format: types_pb2.ResponseFormat) -> None:
    if response_format.type not in _RESPONSE_FORMATS:
        raise InvalidArgument(
            "response_format.type must be text, json_object or json_schema", param="response_format.type"
        )
    if response_format.type == "json_schema":
        if not response_format.json_schema.HasField("schema"):
            raise InvalidArgument(
                "response_format.json_schema.schema is required", param="response_format.json_schema.schema"
            )
        check_json_schema(response_format.json_schema.schema, "response_format.json_schema.schema")


def validate_structured_outputs(structured: types_pb2.StructuredOutputs) -> None:
    given = [
        kind
        for kind, present in (
            ("regex", structured.HasField("regex")),
            ("json", structured.HasField("json")),
            ("choice", bool(structured.choice)),
            ("grammar", structured.HasField("grammar")),
        )
        if present
    ]
    if len(given) != 1:
        raise InvalidArgument(
            "structured_outputs needs exactly one of regex, json, choice, grammar", param="structured_outputs"
        )
    kind = given[0]
    if kind in ("regex", "grammar") and not getattr(structured, kind):
        raise InvalidArgument(
            f"structured_outputs.{kind} must be a non-empty string", param=f"structured_outputs.{kind}"
        )
    if kind == "choice" and not all(structured.choice):
        raise InvalidArgument("structured_outputs.choice must be non-empty strings", param="structured_outputs.choice")
    if kind == "json":
        check_json_schema(structured.json, "structured_outputs.json")


def validate_sampling(s: pb.SamplingParams) -> None:
    def given(name: str) -> Any:
        return getattr(s, name) if s.HasField(name) else None

    _range(given("temperature"), "temperature", 0.0, 2.0)
    top_p = given("top_p")
    if top_p is not None and not (math.isfinite(top_p) and 0.0 < top_p <= 1.0):
        raise InvalidArgument(f"top_p must be in (0, 1], got {top_p}", param="top_p")
    top_k = given("top_k")
    if top_k is not None and top_k < -1:
        raise InvalidArgument(f"top_k must be -1, 0 (off) or positive, got {top_k}", param="top_k")
    _range(given("min_p"), "min_p", 0.0, 1.0)
    _range(given("presence_penalty"), "presence_penalty", -2.0, 2.0)
    _range(given("frequency_penalty"), "frequency_penalty", -2.0, 2.0)
    repetition = given("repetition_penalty")
    if repetition is not None and not (math.isfinite(repetition) and 0.0 < repetition <= 2.0):
        raise InvalidArgument(f"repetition_penalty must be in (0, 2], got {repetition}", param="repetition_penalty")
    max_tokens, min_tokens = given("max_tokens"), given("min_tokens")
    if max_tokens is not None and max_tokens < 1:
        raise InvalidArgument(f"max_tokens must be at least 1, got {max_tokens}", param="max_tokens")
    if min_tokens is not None:
        if min_tokens < 0:
            raise InvalidArgument(f"min_tokens must be at least 0, got {min_tokens}", param="min_tokens")
        if max_tokens is not None and min_tokens > max_tokens:
            raise InvalidArgument("min_tokens cannot exceed max_tokens", param="min_tokens")
    if not all(s.stop):
        raise InvalidArgument("stop sequences must be non-empty strings", param="stop")
    n = answer_count(s)
    if not 1 <= n <= MAX_CHOICES:
        raise InvalidArgument(f"n must be in [1, {MAX_CHOICES}], got {n}", param="n")
    if n > 1 and given("temperature") == 0:  # vLLM refuses it: greedy decoding would give n identical answers
        raise InvalidArgument("n > 1 needs sampling: set temperature above 0", param="n")
    top_logprobs = given("top_logprobs")
    if top_logprobs is not None:
        if not 0 <= top_logprobs <= MAX_TOP_LOGPROBS:
            raise InvalidArgument(f"top_logprobs must be in [0, {MAX_TOP_LOGPROBS}]", param="top_logprobs")
        if top_logprobs > 0 and not s.logprobs:
            raise InvalidArgument("top_logprobs requires logprobs to be true", param="top_logprobs")
    for token_id, bias in s.logit_bias.items():
        if token_id < 0:
            raise InvalidArgument(f"logit_bias key {token_id} is not a token id", param="logit_bias")
        if not (math.isfinite(bias) and -100.0 <= bias <= 100.0):
            raise InvalidArgument(f"logit_bias values must be in [-100, 100], got {bias}", param="logit_bias")


def _range(value: float | None, param: str, lo: float, hi: float) -> None:
    if value is not None and not (math.isfinite(value) and lo <= value <= hi):
        raise InvalidArgument(f"{param} must be in [{lo:g}, {hi:g}], got {value}", param=param)
