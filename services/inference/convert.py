"""jan.v1 protobuf ⇄ the plain JSON shapes vLLM's OpenAI request model takes (pure functions).

Messages, tools and formats go to vLLM's chat template and parsers as OpenAI's JSON; sampling fields are
copied by name (SAMPLING_FIELDS), so a new SamplingParams field reaches vLLM with no code here as long as
vLLM's ChatCompletionRequest spells it the same way.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2

from jan.v1 import inference_service_pb2 as pb
from jan.v1 import types_pb2
from services.common.generation import FINISH_REASONS

# SamplingParams fields whose value goes to vLLM under the same name. max_tokens is left out: the engine
# sets it after checking it against the templated prompt.
SAMPLING_FIELDS = tuple(f.name for f in pb.SamplingParams.DESCRIPTOR.fields if f.name not in ("max_tokens",))


def json_value(value: struct_pb2.Value) -> Any:
    """A google.protobuf.Value as the JSON value it holds (strings, the common case, without json_format)."""
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind is None or kind == "null_value":
        return None
    return json_format.MessageToDict(value)


def struct_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(struct)


def message_dict(message: types_pb2.ChatMessage) -> dict[str, Any]:
    """A chat message in OpenAI's shape; reasoning under vLLM's input name, reasoning_content."""
    out: dict[str, Any] = {"role": message.role, "content": json_value(message.content)}
    if message.HasField("name"):
        out["name"] = message.name
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": call.type or "function",
                "function": {"name": call.function.name, "arguments": call.function.arguments},
            }
            for call in message.tool_calls
        ]
    if message.HasField("tool_call_id"):
        out["tool_call_id"] = message.tool_call_id
    reasoning = message.reasoning_content or message.reasoning
    if reasoning:
        out["reasoning_content"] = reasoning
    if message.HasField("refusal"):
        out["refusal"] = message.refusal
    return out


def tool_dict(tool: types_pb2.Tool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.function.name}
    if tool.function.HasField("description"):
        function["description"] = tool.function.description
    if tool.function.HasField("parameters"):
        function["parameters"] = struct_dict(tool.function.parameters)
    if tool.function.HasField("strict"):
        function["strict"] = tool.function.strict
    return {"type": tool.type or "function", "function": function}


def tool_choice_value(choice: pb.ToolChoice) -> str | dict[str, Any] | None:
    kind = choice.WhichOneof("choice")
    if kind == "mode":
        return choice.mode
    if kind == "function_name":
        return {"type": "function", "function": {"name": choice.function_name}}
    return None


def response_format_dict(response_format: types_pb2.ResponseFormat) -> dict[str, Any]:
    out: dict[str, Any] = {"type": response_format.type}
    if response_format.type == "json_schema":
        schema = response_format.json_schema
        out["json_schema"] = {"name": schema.name, "schema": struct_dict(schema.schema)}
        if schema.HasField("description"):
            out["json_schema"]["description"] = schema.description
        if schema.HasField("strict"):
            out["json_schema"]["strict"] = schema.strict
    return out


def structured_outputs_dict(structured: types_pb2.StructuredOutputs) -> dict[str, Any]:
    if structured.HasField("regex"):
        return {"regex": structured.regex}
    if structured.HasField("grammar"):
        return {"grammar": structured.grammar}
    if structured.choice:
        return {"choice": list(structured.choice)}
    return {"json": struct_dict(structured.json)}


def _copy_rule(field: Any) -> str:
    if field.is_repeated:
        return "map" if field.message_type is not None else "list"
    return "optional" if field.has_presence else "flag"  # a plain bool: sent when true


_SAMPLING_RULES = tuple(
    (name, _copy_rule(pb.SamplingParams.DESCRIPTOR.fields_by_name[name])) for name in SAMPLING_FIELDS
)


def sampling_dict(sampling: pb.SamplingParams) -> dict[str, Any]:
    """The sampling fields the caller set, under their names (OpenAI's and vLLM's)."""
    out: dict[str, Any] = {}
    for name, rule in _SAMPLING_RULES:
        value = getattr(sampling, name)
        if rule == "optional":
            if sampling.HasField(name):
                out[name] = value
        elif rule == "map":
            if value:
                out[name] = {str(k): v for k, v in value.items()}
        elif value:
            out[name] = list(value) if rule == "list" else value
    return out


def finish_reason(name: str) -> pb.FinishReason:
    return FINISH_REASONS[name]
