"""jan.v1 protobuf ⇄ the chat service's records (pure functions).

Requests go proto to proto: the OpenAI body (`ChatCompletionParams`) becomes the inference service's
`GenerateRequest` by copying the shared message types (messages, tools, formats) as they are and the
sampling fields by one list of names (SHARED_SAMPLING_FIELDS). Answers come back as inference's
`GenerateResponse` steps and are rendered once, as the typed chunk or completion; the SSE and JSON bodies
are those same messages printed by openai_json.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from google.api import httpbody_pb2
from google.protobuf import json_format, struct_pb2

from jan.v1 import chat_service_pb2 as pb
from jan.v1 import inference_service_pb2 as inference_pb
from jan.v1 import responses_service_pb2 as responses_pb
from jan.v1 import types_pb2
from services.chat import items, limits, openai_json, validation, web_search
from services.chat.domain import (
    ChatRequest,
    ChoiceFinished,
    Citation,
    Cited,
    Completion,
    Conversation,
    Generated,
    Item,
    Owner,
    RoleStarted,
    StreamEvent,
    StreamFailed,
    StreamHeader,
    UsageCounted,
)
from services.common.errors import JanError
from services.common.generation import FINISH_REASON_NAMES, whole_tool_calls
from services.common.identity import Caller

SSE_DONE = b"data: [DONE]\n\n"
PARAM_FIELDS = tuple(f.name for f in pb.ChatCompletionParams.DESCRIPTOR.fields)


def _shared_sampling_fields() -> tuple[str, ...]:
    """SamplingParams fields that ChatCompletionParams has under the same name as a single value of the same
    type: copied as they are. (max_tokens, stop and logit_bias differ on the OpenAI surface: see below.)"""
    chat = pb.ChatCompletionParams.DESCRIPTOR.fields_by_name
    shared = []
    for field in inference_pb.SamplingParams.DESCRIPTOR.fields:
        other = chat.get(field.name)
        if other is not None and not field.is_repeated and not other.is_repeated and other.type == field.type:
            shared.append(field.name)
    return tuple(shared)


SHARED_SAMPLING_FIELDS = _shared_sampling_fields()


# -- requests ---------------------------------------------------------------------------------------------


def chat_request(
    params: pb.ChatCompletionParams,
    request_id: str,
    *,
    stream: bool,
    max_output_tokens: int = 0,
    guest: bool = False,
) -> ChatRequest:
    """The OpenAI request as the inference request it becomes; OpenAI-only fields checked on the way, and the
    caller's limit on output tokens (n × max_tokens; limits.py) applied."""
    validation.check_surface(params, stream=stream)
    generate = inference_pb.GenerateRequest(model=params.model, request_id=request_id)
    generate.messages.extend(params.messages)
    generate.tools.extend(params.tools)
    sampling = generate.sampling
    for name in SHARED_SAMPLING_FIELDS:
        if params.HasField(name):
            setattr(sampling, name, getattr(params, name))
    if params.HasField("max_completion_tokens"):
        sampling.max_tokens = params.max_completion_tokens
    sampling.stop.extend(validation.stop_sequences(params.stop))
    for token, weight in validation.logit_bias(dict(params.logit_bias)).items():
        sampling.logit_bias[token] = weight
    choice = validation.tool_choice(params.tool_choice)
    if choice is not None:
        setattr(generate.tool_choice, choice[0], choice[1])
    if params.HasField("parallel_tool_calls") and not params.parallel_tool_calls:
        generate.parallel_tool_calls = False
    if params.HasField("response_format"):
        generate.response_format.CopyFrom(params.response_format)
    if params.HasField("structured_outputs"):
        generate.structured_outputs.CopyFrom(params.structured_outputs)
    if params.HasField("chat_template_kwargs"):
        generate.chat_template_kwargs.CopyFrom(params.chat_template_kwargs)
    if params.HasField("reasoning_effort") and "reasoning_effort" not in generate.chat_template_kwargs.fields:
        generate.chat_template_kwargs["reasoning_effort"] = params.reasoning_effort
    n = params.n if params.HasField("n") else 1
    max_tokens_param = "max_completion_tokens" if params.HasField("max_completion_tokens") else "max_tokens"
    limits.bound_output(generate, n, max_output_tokens, guest=guest, param=max_tokens_param)
    return ChatRequest(
        web_search=web_search.parse_options(params.web_search_options),
        generate=generate,
        n=n,
        include_usage=stream and params.stream_options.include_usage,
        parallel_tool_calls=generate.parallel_tool_calls if generate.HasField("parallel_tool_calls") else True,
        metadata=dict(params.metadata),
        store=params.store,
        conversation_id=params.conversation if params.HasField("conversation") else None,
    )


# -- answers ----------------------------------------------------------------------------------------------


def completion_response(completion: Completion) -> pb.CreateChatCompletionResponse:
    response = pb.CreateChatCompletionResponse(
        id=completion.id, object="chat.completion", created=completion.created, model=completion.model
    )
    for index, answer in enumerate(completion.answers):
        choice = response.choices.add(index=index, finish_reason=FINISH_REASON_NAMES.get(answer.finish_reason, "stop"))
        message = choice.message
        message.role = "assistant"
        if answer.content or not answer.tool_calls:
            message.content = answer.content
        if answer.reasoning_content:
            message.reasoning_content = message.reasoning = answer.reasoning_content
        message.tool_calls.extend(whole_tool_calls(answer))
        if index == 0:
            message.annotations.extend(annotation(c) for c in completion.citations)
        if answer.logprobs:
            choice.logprobs.content.extend(answer.logprobs)
    if completion.usage is not None:
        response.usage.CopyFrom(completion.usage)
    return response


def chunk(event: StreamEvent, header: StreamHeader) -> pb.StreamChatCompletionResponse:
    """One event as OpenAI's chat.completion.chunk (the typed form; sse() prints it)."""
    out = pb.StreamChatCompletionResponse(
        id=header.id, object="chat.completion.chunk", created=header.created, model=header.model
    )
    match event:
        case RoleStarted(index=index):
            delta = out.choices.add(index=index).delta
            delta.role, delta.content = "assistant", ""
        case Generated(step=step):
            choice = out.choices.add(index=step.index)
            choice.delta.SetInParent()
            if step.content:
                choice.delta.content = step.content
            if step.reasoning_content:
                choice.delta.reasoning_content = choice.delta.reasoning = step.reasoning_content
            choice.delta.tool_calls.extend(step.tool_calls)
            if step.logprobs:
                choice.logprobs.content.extend(step.logprobs)
        case Cited(index=index, citations=citations):
            out.choices.add(index=index).delta.annotations.extend(annotation(c) for c in citations)
        case ChoiceFinished(index=index, finish_reason=reason):
            choice = out.choices.add(index=index, finish_reason=reason)
            choice.delta.SetInParent()
        case UsageCounted(usage=usage):
            out.usage.CopyFrom(usage)
        case StreamFailed(error=error):
            body = error.openai_body()["error"]
            out.error.CopyFrom(
                types_pb2.ErrorObject(
                    message=body["message"], type=body["type"], param=body["param"], code=body["code"]
                )
            )
    return out


def annotation(citation: Citation) -> pb.Annotation:
    return pb.Annotation(
        type="url_citation",
        url_citation=pb.UrlCitation(
            start_index=citation.start, end_index=citation.end, url=citation.url, title=citation.title
        ),
    )


def sse(chunk: pb.StreamChatCompletionResponse, *, include_usage: bool) -> bytes:
    """The chunk as a server-sent event: OpenAI's JSON (with "usage": null on every chunk but the last when
    include_usage is set), or for a failure OpenAI's in-band error object alone."""
    if chunk.HasField("error"):
        body = json.dumps({"error": openai_json.to_json_dict(chunk.error)}, ensure_ascii=False, separators=(",", ":"))
        return b"data: " + body.encode() + b"\n\n"
    extra = {"usage": None} if include_usage else {}
    return b"data: " + openai_json.dumps(chunk, **extra) + b"\n\n"


def now() -> int:
    return int(time.time())


# -- models -----------------------------------------------------------------------------------------------


def model(served: inference_pb.ServedModel) -> pb.Model:
    return pb.Model(
        id=served.id,
        object="model",
        created=served.created,
        owned_by=served.owned_by,
        max_model_len=served.max_model_len,
        root=served.root,
    )


# -- conversations ----------------------------------------------------------------------------------------


def conversation(record: Conversation) -> pb.Conversation:
    return pb.Conversation(
        id=record.id, object="conversation", created_at=record.created_at, metadata=record.metadata, title=record.title
    )


def item(record: Item) -> struct_pb2.Struct:
    """An item as OpenAI's ConversationItem JSON (the transcoder prints a Struct as the JSON it holds)."""
    out = struct_pb2.Struct()
    out.update(items.render(record.id, record.type, record.body))
    return out


def _item_page(records: list[Item], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [item(r) for r in records],
        "first_id": records[0].id if records else "",
        "last_id": records[-1].id if records else "",
        "has_more": has_more,
    }


def item_list(records: list[Item], has_more: bool) -> pb.ConversationItemList:
    return pb.ConversationItemList(**_item_page(records, has_more))


def input_items(structs: Iterable[struct_pb2.Struct]) -> list[dict[str, Any]]:
    return [json_format.MessageToDict(s) for s in structs]


def attribution(caller: Caller) -> types_pb2.Attribution:
    """Who a request's tokens are counted against (usage.py)."""
    return types_pb2.Attribution(
        org_id=caller.org_id or "",
        project_id=caller.project_id or "",
        user_id=caller.user_id or "",
        api_key_id=caller.key_id if caller.key_type in ("project", "service_account") and caller.key_id else "",
    )


def owner(caller: Caller) -> Owner | None:
    if not caller.authenticated or not caller.user_id:
        return None
    return Owner(caller.user_id, caller.project_id, caller.guest)


# -- responses --------------------------------------------------------------------------------------------

RESPONSE_PARAM_FIELDS = tuple(f.name for f in responses_pb.ResponseParams.DESCRIPTOR.fields)


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def response_body(response: dict[str, Any]) -> httpbody_pb2.HttpBody:
    """A Response object (or any OpenAI JSON object) as the REST body."""
    return httpbody_pb2.HttpBody(content_type="application/json", data=_json_bytes(response))


def response_sse(event: dict[str, Any]) -> httpbody_pb2.HttpBody:
    """One event as OpenAI's Responses stream sends it: named, no [DONE] at the end."""
    data = b"event: " + event["type"].encode() + b"\ndata: " + _json_bytes(event) + b"\n\n"
    return httpbody_pb2.HttpBody(content_type="text/event-stream", data=data)


def response_event(event: dict[str, Any]) -> responses_pb.ResponseEvent:
    """One event, typed for native clients (the whole event rides along as JSON)."""
    typed = responses_pb.ResponseEvent(type=event["type"], sequence_number=event["sequence_number"])
    for name in ("output_index", "content_index", "item_id", "delta"):
        if isinstance(event.get(name), (int, str)):
            setattr(typed, name, event[name])
    typed.event.update(event)
    return typed


def error_event(error: JanError, sequence_number: int) -> dict[str, Any]:
    """The `error` event: a stream that broke after it began."""
    return {
        "type": "error",
        "code": error.code or error.kind.openai_type,
        "message": error.message,
        "param": error.param,
        "sequence_number": sequence_number,
    }


def response_item_list(records: list[Item], has_more: bool) -> responses_pb.ResponseItemList:
    return responses_pb.ResponseItemList(**_item_page(records, has_more))
