"""OpenAI's create-response body (`ResponseParams`) checked and turned into what the chat service runs: the
inference request (instructions and input as chat messages, function tools, format, sampling), the web
search tool's options, where state comes from and goes to, and the fields the Response object echoes.

What cannot be honoured is refused by name: other built-in tools (file search, code interpreter, computer
use, image generation, MCP, shell), stored prompts, context management, `background` without `store`,
`previous_response_id` together with `conversation`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format, struct_pb2

from jan.v1 import inference_service_pb2 as inference_pb
from jan.v1 import responses_service_pb2 as pb
from jan.v1 import types_pb2
from services.chat import items as item_shapes
from services.chat import validation, web_search
from services.chat.domain import NewItem, WebSearchOptions
from services.chat.validation import INCLUDABLE, check_metadata
from services.common.errors import InvalidArgument

WEB_SEARCH_TYPES = ("web_search", "web_search_2025_08_26", "web_search_preview", "web_search_preview_2025_03_11")
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_THINKING_OFF = ("none", "minimal")  # reasoning efforts that turn a Qwen3-style model's thinking off
_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")


def _fail(message: str, param: str) -> InvalidArgument:
    return InvalidArgument(message, param=param)


@dataclass
class ResponseRequest:
    """A create-response request that passed its checks."""

    model: str
    generate: inference_pb.GenerateRequest  # instructions + input (history is added later) and the rest
    input_items: list[NewItem]  # the input, as stored items
    instructions: Any  # as given (a string, a list, or None), echoed in the Response
    instruction_messages: int  # how many of generate's first messages the instructions are
    web_search: WebSearchOptions | None = None
    force_search: bool = False  # tool_choice requires a web search
    store: bool = True
    background: bool = False
    stream: bool = False
    previous_response_id: str | None = None
    conversation_id: str | None = None
    truncation: str = "disabled"
    max_tool_calls: int | None = None
    echo: dict[str, Any] = field(default_factory=dict)  # the Response's request fields, as OpenAI answers them


def parse(params: pb.ResponseParams, *, stream: bool, counting: bool = False) -> ResponseRequest:
    """Checks a create body (`counting`: an input-token-count body, where input may be left out)."""
    if not params.model:
        raise _fail("model is required", "model")
    for name in ("prompt", "context_management"):
        if getattr(params, name).WhichOneof("kind") not in (None, "null_value"):
            raise _fail(f"{name} is not supported", name)
    if params.HasField("service_tier") and params.service_tier not in ("auto", "default"):
        raise _fail("service_tier must be 'auto' or 'default'", "service_tier")
    if params.stream_options.fields and not stream:
        raise _fail("stream_options is only allowed when stream is true", "stream_options")
    for value in params.include:
        if value not in INCLUDABLE:
            raise _fail(f"include values must be among {', '.join(INCLUDABLE)}; got {value[:64]!r}", "include")
    store = params.store if params.HasField("store") else True
    background = params.HasField("background") and params.background
    if background and not store:
        raise _fail("background responses are stored: send store=true (the default) with background", "background")
    conversation_id = _conversation(params.conversation)
    if conversation_id and params.HasField("previous_response_id"):
        raise _fail("send either previous_response_id or conversation, not both", "conversation")
    truncation = params.truncation if params.HasField("truncation") else "disabled"
    if truncation not in ("auto", "disabled"):
        raise _fail("truncation must be 'auto' or 'disabled'", "truncation")
    check_metadata(dict(params.metadata))

    generate = inference_pb.GenerateRequest(model=params.model)
    instructions = _json(params.instructions)
    generate.messages.extend(_instruction_messages(instructions))
    instruction_messages = len(generate.messages)
    input_items = [] if counting and _json(params.input) is None else _input_items(params.input)
    generate.messages.extend(item_shapes.to_chat_messages([(i.type, i.body) for i in input_items]))
    function_tools, search, tool_json = _tools(params.tools)
    generate.tools.extend(function_tools)
    force_search, choice_json = _tool_choice(params.tool_choice, generate, search is not None)
    _sampling(params, generate)
    text_json = _text(params.text, generate)
    if params.HasField("structured_outputs"):  # vLLM's extension, as on chat completions
        if generate.HasField("response_format"):
            raise _fail("send either text.format or structured_outputs, not both", "structured_outputs")
        generate.structured_outputs.CopyFrom(params.structured_outputs)
    if params.HasField("chat_template_kwargs"):
        generate.chat_template_kwargs.CopyFrom(params.chat_template_kwargs)
    reasoning_json = _reasoning(params.reasoning, generate)
    if params.HasField("parallel_tool_calls") and not params.parallel_tool_calls:
        generate.parallel_tool_calls = False
    if params.HasField("max_tool_calls") and params.max_tool_calls < 0:
        raise _fail("max_tool_calls must be at least 0", "max_tool_calls")
    echo = {
        "instructions": instructions,
        "max_output_tokens": params.max_output_tokens if params.HasField("max_output_tokens") else None,
        "max_tool_calls": params.max_tool_calls if params.HasField("max_tool_calls") else None,
        "metadata": dict(params.metadata),
        "model": params.model,
        "parallel_tool_calls": params.parallel_tool_calls if params.HasField("parallel_tool_calls") else True,
        "previous_response_id": params.previous_response_id if params.HasField("previous_response_id") else None,
        "prompt_cache_key": params.prompt_cache_key if params.HasField("prompt_cache_key") else None,
        "reasoning": reasoning_json,
        "safety_identifier": params.safety_identifier if params.HasField("safety_identifier") else None,
        "service_tier": "default",
        "store": store,
        "temperature": params.temperature if params.HasField("temperature") else 1.0,
        "text": text_json,
        "tool_choice": choice_json,
        "tools": tool_json,
        "top_logprobs": params.top_logprobs if params.HasField("top_logprobs") else 0,
        "top_p": params.top_p if params.HasField("top_p") else 1.0,
        "truncation": truncation,
        "background": background,
        "conversation": {"id": conversation_id} if conversation_id else None,
    }
    if params.HasField("user"):  # a string when given, absent otherwise (OpenAI's document: not nullable)
        echo["user"] = params.user
    return ResponseRequest(
        model=params.model,
        generate=generate,
        input_items=input_items,
        instructions=instructions,
        instruction_messages=instruction_messages,
        web_search=search,
        force_search=force_search,
        store=store,
        background=background,
        stream=stream,
        previous_response_id=echo["previous_response_id"],
        conversation_id=conversation_id,
        truncation=truncation,
        max_tool_calls=echo["max_tool_calls"],
        echo=echo,
    )


def _json(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind in (None, "null_value"):
        return None
    return json_format.MessageToDict(value)


def _conversation(value: struct_pb2.Value) -> str | None:
    given = _json(value)
    if given is None:
        return None
    conversation_id = given.get("id") if isinstance(given, dict) else given
    if not isinstance(conversation_id, str) or not conversation_id:
        raise _fail('conversation must be a conversation id or {"id": ...}', "conversation")
    return conversation_id


def _instruction_messages(instructions: Any) -> list[types_pb2.ChatMessage]:
    if instructions is None:
        return []
    if isinstance(instructions, str):
        message = types_pb2.ChatMessage(role="system")
        message.content.string_value = instructions
        return [message]
    if not isinstance(instructions, list):
        raise _fail("instructions must be a string or a list of input items", "instructions")
    checked = [item_shapes.check_input_item(item, f"instructions[{i}]") for i, item in enumerate(instructions)]
    return item_shapes.to_chat_messages([(i.type, i.body) for i in checked])


def _input_items(value: struct_pb2.Value) -> list[NewItem]:
    given = _json(value)
    if given is None:
        raise _fail("input is required", "input")
    if isinstance(given, str):
        return [item_shapes.check_input_item({"type": "message", "role": "user", "content": given}, "input")]
    if not isinstance(given, list) or not given:
        raise _fail("input must be a string or a non-empty list of input items", "input")
    for i, item in enumerate(given):
        if isinstance(item, dict) and item.get("type") == "item_reference":
            raise _fail("item references are not supported: send the item itself", f"input[{i}].type")
    return [item_shapes.check_input_item(item, f"input[{i}]") for i, item in enumerate(given)]


def _tools(tools: Any) -> tuple[list[types_pb2.Tool], WebSearchOptions | None, list[dict[str, Any]]]:
    functions: list[types_pb2.Tool] = []
    search: WebSearchOptions | None = None
    echoed: list[dict[str, Any]] = []
    for i, struct in enumerate(tools):
        tool = json_format.MessageToDict(struct)
        kind = tool.get("type")
        if kind == "function":
            name = tool.get("name")
            if not isinstance(name, str) or not _FUNCTION_NAME.match(name):
                raise _fail(f"tools[{i}].name must match ^[A-Za-z0-9_-]{{1,64}}$", f"tools[{i}].name")
            definition = types_pb2.Tool(type="function")
            definition.function.name = name
            if isinstance(tool.get("description"), str):
                definition.function.description = tool["description"]
            parameters = tool.get("parameters")
            if parameters is not None:
                if not isinstance(parameters, dict):
                    raise _fail(f"tools[{i}].parameters must be a JSON Schema object", f"tools[{i}].parameters")
                definition.function.parameters.update(parameters)
            strict = tool.get("strict")
            if isinstance(strict, bool):
                definition.function.strict = strict
            functions.append(definition)
            echoed.append(
                {
                    "type": "function",
                    "name": name,
                    "description": tool.get("description"),
                    "parameters": parameters,
                    "strict": strict if isinstance(strict, bool) else True,
                }
            )
        elif kind in WEB_SEARCH_TYPES:
            options = {k: tool[k] for k in ("search_context_size", "user_location") if tool.get(k) is not None}
            location = options.get("user_location")
            if isinstance(location, dict) and "approximate" not in location:  # the Responses shape is flat
                options["user_location"] = {"type": "approximate", "approximate": {
                    k: v for k, v in location.items() if k in ("city", "region", "country", "timezone")
                }}  # fmt: skip
            value = struct_pb2.Value()
            value.struct_value.update(options)
            try:
                search = web_search.parse_options(value)
            except InvalidArgument as error:
                raise _fail(error.message.replace("web_search_options", f"tools[{i}]"), f"tools[{i}]") from None
            echoed.append({"type": kind, "search_context_size": tool.get("search_context_size", "medium"),
                           "user_location": tool.get("user_location")})  # fmt: skip
        else:
            raise _fail(
                f"tools[{i}].type {kind!r} is not supported: use function tools or web_search", f"tools[{i}].type"
            )
    return functions, search, echoed


def _tool_choice(value: struct_pb2.Value, generate: inference_pb.GenerateRequest, has_search: bool) -> tuple[bool, Any]:
    """Sets the function tool choice; returns whether a web search is required, and the choice as echoed."""
    choice = _json(value)
    if choice is None:
        return False, "auto"
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise _fail("tool_choice must be 'none', 'auto', 'required' or a tool", "tool_choice")
        if choice != "auto":
            generate.tool_choice.mode = choice
        return choice == "required" and has_search and not generate.tools, choice
    if isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("name"), str):
        generate.tool_choice.function_name = choice["name"]
        return False, {"type": "function", "name": choice["name"]}
    if isinstance(choice, dict) and choice.get("type") in WEB_SEARCH_TYPES:
        if not has_search:
            raise _fail("tool_choice names web_search, which is not in tools", "tool_choice")
        # OpenAI's document lists only the preview names as hosted tool choices: echo the one it allows.
        echoed = choice["type"] if "preview" in choice["type"] else "web_search_preview"
        return True, {"type": echoed}
    raise _fail('tool_choice must be "none", "auto", "required", {"type": "function", "name": ...} '
                'or {"type": "web_search"}', "tool_choice")  # fmt: skip


def _sampling(params: pb.ResponseParams, generate: inference_pb.GenerateRequest) -> None:
    sampling = generate.sampling
    for name in ("temperature", "top_p"):
        if params.HasField(name):
            setattr(sampling, name, getattr(params, name))
    if params.HasField("max_output_tokens"):
        if params.max_output_tokens < 1:
            raise _fail(f"max_output_tokens must be at least 1, got {params.max_output_tokens}", "max_output_tokens")
        sampling.max_tokens = params.max_output_tokens
    for token, weight in validation.logit_bias(dict(params.logit_bias)).items():  # vLLM's extension
        sampling.logit_bias[token] = weight
    if params.HasField("top_logprobs") and params.top_logprobs > 0:
        sampling.logprobs = True
        sampling.top_logprobs = params.top_logprobs


def _text(text: struct_pb2.Struct, generate: inference_pb.GenerateRequest) -> dict[str, Any]:
    given = json_format.MessageToDict(text) if text.fields else {}
    unknown = set(given) - {"format", "verbosity"}
    if unknown:
        name = sorted(unknown)[0]
        raise _fail(f"Unrecognized argument text.{name}", f"text.{name}")
    fmt = given.get("format") or {"type": "text"}
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "json_schema":
        schema = fmt.get("schema")
        if not isinstance(schema, dict):
            raise _fail("text.format.schema is required for json_schema", "text.format.schema")
        generate.response_format.type = "json_schema"
        generate.response_format.json_schema.name = str(fmt.get("name") or "response")
        generate.response_format.json_schema.schema.update(schema)
        if isinstance(fmt.get("strict"), bool):
            generate.response_format.json_schema.strict = fmt["strict"]
        fmt = {"type": "json_schema", "name": generate.response_format.json_schema.name, "schema": schema,
               "description": fmt.get("description"), "strict": fmt.get("strict", False)}  # fmt: skip
    elif kind == "json_object":
        generate.response_format.type = "json_object"
    elif kind != "text":
        raise _fail("text.format.type must be 'text', 'json_object' or 'json_schema'", "text.format.type")
    verbosity = given.get("verbosity")
    if verbosity not in (None, "medium"):
        raise _fail("text.verbosity is not supported (only 'medium')", "text.verbosity")
    return {"format": fmt, "verbosity": "medium"}


def _reasoning(reasoning: struct_pb2.Struct, generate: inference_pb.GenerateRequest) -> dict[str, Any] | None:
    given = json_format.MessageToDict(reasoning) if reasoning.fields else None
    if not given:
        return None
    effort = given.get("effort")
    if effort is not None and effort not in _EFFORTS:
        raise _fail(f"reasoning.effort must be one of {', '.join(_EFFORTS)}", "reasoning.effort")
    if effort is not None:
        generate.chat_template_kwargs["reasoning_effort"] = effort
        generate.chat_template_kwargs["enable_thinking"] = effort not in _THINKING_OFF
    return {"effort": effort, "summary": given.get("summary")}
