"""Checks of what exists only on the OpenAI surface: each bad field is named in `param`.

Messages, tools, formats and sampling values are the inference service's to check (validation.py there),
since native callers reach it directly: chat passes them on unchecked, so a bad value gets the same message
and `param` whichever way it came. What is checked here is what inference never sees: fields we refuse,
the shapes OpenAI allows where the inference API is stricter (`stop` as a string, `tool_choice` as a string
or an object, `logit_bias` keyed by strings), `max_completion_tokens`, streaming options; and the
Conversations API's metadata, pages and item counts (the items themselves: items.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf import struct_pb2

from jan.v1 import chat_service_pb2 as pb
from services.common.errors import InvalidArgument

# Declared OpenAI fields we refuse, with why. Sending them with a null or empty value is fine.
UNSUPPORTED = {
    "audio": "audio output is not supported",
    "prediction": "predicted outputs are not supported",
    "functions": "'functions' is deprecated and not supported; use 'tools'",
    "function_call": "'function_call' is deprecated and not supported; use 'tool_choice'",
}
MAX_STOP_SEQUENCES = 4
MAX_METADATA_PAIRS = 16
MAX_ITEMS_PER_REQUEST = 20
_INT32_MAX = 2**31 - 1


def _fail(message: str, param: str) -> InvalidArgument:
    return InvalidArgument(message, param=param)


def reject_unknown_fields(sent: Iterable[str], known: Iterable[str]) -> None:
    """The transcoder drops JSON fields it does not know; Envoy's Lua step tells us which top-level keys
    the client sent, so an unknown one gets OpenAI's own error instead of being ignored."""
    known_set = set(known)
    for key in sent:
        if key and key not in known_set:
            raise _fail(f"Unrecognized request argument supplied: {key[:64]}", key[:64])


def _given(value: struct_pb2.Value) -> bool:
    """Whether a JSON-valued field holds something other than null, {} or []."""
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return bool(value.struct_value.fields)
    if kind == "list_value":
        return bool(value.list_value.values)
    if kind == "string_value":
        return bool(value.string_value)
    return kind not in (None, "null_value")


def check_surface(params: pb.ChatCompletionParams, *, stream: bool) -> None:
    for name, why in UNSUPPORTED.items():
        if _given(getattr(params, name)):
            raise _fail(why, name)
    if params.HasField("verbosity") and params.verbosity:
        raise _fail("verbosity is not supported", "verbosity")
    if params.store and params.HasField("n") and params.n > 1:
        raise _fail("store keeps one answer per turn: send n = 1 with store", "n")
    searching = params.web_search_options.WhichOneof("kind") not in (None, "null_value")
    if searching and params.HasField("n") and params.n > 1:
        raise _fail("web search answers once: send n = 1 with web_search_options", "n")
    if list(params.modalities) not in ([], ["text"]):
        raise _fail("only the 'text' modality is supported", "modalities")
    if params.HasField("service_tier") and params.service_tier not in ("auto", "default"):
        raise _fail("service_tier must be 'auto' or 'default'", "service_tier")
    if params.HasField("stream_options") and not stream:
        raise _fail("stream_options is only allowed when stream is true", "stream_options")
    if params.HasField("max_completion_tokens") and params.max_completion_tokens < 1:
        raise _fail(
            f"max_completion_tokens must be at least 1, got {params.max_completion_tokens}", "max_completion_tokens"
        )
    check_metadata(dict(params.metadata))


def stop_sequences(value: struct_pb2.Value) -> list[str]:
    """OpenAI's `stop`: a string or a list of up to 4 strings."""
    kind = value.WhichOneof("kind")
    if kind in (None, "null_value"):
        return []
    if kind == "string_value":
        return [value.string_value]
    if kind == "list_value" and all(v.WhichOneof("kind") == "string_value" for v in value.list_value.values):
        stops = [v.string_value for v in value.list_value.values]
        if len(stops) > MAX_STOP_SEQUENCES:
            raise _fail(f"stop takes at most {MAX_STOP_SEQUENCES} sequences", "stop")
        return stops
    raise _fail("stop must be a string or a list of strings", "stop")


def tool_choice(value: struct_pb2.Value) -> tuple[str, str] | None:
    """OpenAI's `tool_choice` as ("mode", "none" | "auto" | "required") or ("function_name", name)."""
    kind = value.WhichOneof("kind")
    if kind in (None, "null_value"):
        return None
    if kind == "string_value":
        return "mode", value.string_value  # which modes exist is inference's rule
    if kind == "struct_value":
        fields = value.struct_value.fields
        kind_field = fields["type"].string_value if "type" in fields else "function"
        function = fields["function"].struct_value.fields if "function" in fields else None
        name = function["name"].string_value if function is not None and "name" in function else ""
        if kind_field == "function" and name:
            return "function_name", name
    raise _fail(
        'tool_choice must be "none", "auto", "required" or {"type": "function", "function": {"name": ...}}',
        "tool_choice",
    )


def logit_bias(bias: dict[str, float]) -> dict[int, float]:
    """OpenAI's logit_bias keys are token ids written as strings."""
    out: dict[int, float] = {}
    for token, weight in bias.items():
        if not (token.isascii() and token.isdigit()) or int(token) > _INT32_MAX:
            raise _fail(f"logit_bias keys must be token ids, got {token[:32]!r}", "logit_bias")
        out[int(token)] = weight
    return out


# -- conversations --------------------------------------------------------------------------------------


def check_metadata(metadata: dict[str, str]) -> dict[str, str]:
    if len(metadata) > MAX_METADATA_PAIRS:
        raise _fail(f"metadata takes at most {MAX_METADATA_PAIRS} pairs", "metadata")
    for key, value in metadata.items():
        if len(key) > 64 or len(value) > 512:
            raise _fail("metadata keys are at most 64 characters and values at most 512", f"metadata.{key[:64]}")
    return metadata


def check_page(limit: int | None, order: str) -> tuple[int, bool]:
    """A page size (default 20) and whether newest come first (the default)."""
    if order not in ("", "asc", "desc"):
        raise _fail("order must be 'asc' or 'desc'", "order")
    if limit is not None and not 1 <= limit <= 100:
        raise _fail(f"limit must be between 1 and 100, got {limit}", "limit")
    return limit or 20, order != "asc"


# OpenAI's IncludeEnum: extra output data an item listing may ask for. Nothing extra exists here yet, so
# they are accepted and change nothing.
INCLUDABLE = (
    "file_search_call.results",
    "web_search_call.results",
    "web_search_call.action.sources",
    "message.input_image.image_url",
    "computer_call_output.output.image_url",
    "code_interpreter_call.outputs",
    "reasoning.encrypted_content",
    "message.output_text.logprobs",
)


def check_include(include: list[str]) -> None:
    for value in include:
        if value not in INCLUDABLE:
            raise _fail(f"include values must be among {', '.join(INCLUDABLE)}; got {value[:64]!r}", "include")


def check_item_count(count: int, param: str = "items") -> None:
    if count > MAX_ITEMS_PER_REQUEST:
        raise _fail(f"at most {MAX_ITEMS_PER_REQUEST} items per request", param)
