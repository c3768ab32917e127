"""Completions and stream events in OpenAI's shapes: protobuf for gRPC (the transcoder prints the unary one)
and server-sent-event bytes for the REST stream, which are written here so that they match OpenAI's
chunks exactly (nulls included) and end with `data: [DONE]`."""

from __future__ import annotations

import json
from typing import Any

from jan.v1 import chat_service_pb2 as pb
from jan.v1 import types_pb2
from services.chat.domain import (
    Choice,
    Completion,
    Delta,
    ModelCard,
    StreamEvent,
    TokenLogprob,
    ToolCallPiece,
    Usage,
)

SSE_DONE = b"data: [DONE]\n\n"


def model_to_proto(card: ModelCard) -> pb.Model:
    return pb.Model(
        id=card.id,
        object="model",
        created=card.created,
        owned_by=card.owned_by,
        max_model_len=card.max_model_len,
        root=card.root,
    )


def _usage_proto(usage: Usage | None) -> types_pb2.Usage | None:
    if usage is None:
        return None
    return types_pb2.Usage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        prompt_tokens_details=types_pb2.PromptTokensDetails(cached_tokens=usage.cached_tokens),
        completion_tokens_details=types_pb2.CompletionTokensDetails(reasoning_tokens=usage.reasoning_tokens),
    )


def _logprobs_proto(logprobs: list[TokenLogprob]) -> types_pb2.ChoiceLogprobs | None:
    if not logprobs:
        return None
    return types_pb2.ChoiceLogprobs(
        content=[
            types_pb2.TokenLogprob(
                token=lp.token,
                logprob=lp.logprob,
                bytes=lp.bytes,
                top_logprobs=[
                    types_pb2.TopLogprob(token=t.token, logprob=t.logprob, bytes=t.bytes) for t in lp.top_logprobs
                ],
            )
            for lp in logprobs
        ]
    )


def _choice_proto(choice: Choice) -> pb.ChatCompletionChoice:
    message = pb.ChatCompletionMessage(
        role="assistant",
        content=choice.content if choice.content or not choice.tool_calls else None,
        reasoning_content=choice.reasoning or None,
        reasoning=choice.reasoning or None,
        tool_calls=[
            types_pb2.ToolCall(
                id=t.id or "",
                type="function",
                function=types_pb2.FunctionCall(name=t.name or "", arguments=t.arguments),
            )
            for t in choice.tool_calls
        ],
    )
    return pb.ChatCompletionChoice(
        index=choice.index,
        message=message,
        finish_reason=choice.finish_reason,
        logprobs=_logprobs_proto(choice.logprobs),
    )


def completion_to_proto(completion: Completion) -> pb.CreateChatCompletionResponse:
    return pb.CreateChatCompletionResponse(
        id=completion.id,
        object="chat.completion",
        created=completion.created,
        model=completion.model,
        choices=[_choice_proto(c) for c in completion.choices],
        usage=_usage_proto(completion.usage),
    )


def _tool_delta_proto(piece: ToolCallPiece) -> types_pb2.ToolCallDelta:
    delta = types_pb2.ToolCallDelta(
        index=piece.index, id=piece.id, function=types_pb2.FunctionCallDelta(name=piece.name, arguments=piece.arguments)
    )
    if piece.id:
        delta.type = "function"
    return delta


def event_to_proto(event: StreamEvent, completion_id: str, created: int, model: str) -> pb.StreamChatCompletionResponse:
    chunk = pb.StreamChatCompletionResponse(
        id=completion_id, object="chat.completion.chunk", created=created, model=model
    )
    if event.kind == "error":
        error = event.error.openai_body()["error"]
        chunk.error.CopyFrom(
            types_pb2.ErrorObject(
                message=error["message"], type=error["type"], param=error["param"], code=error["code"]
            )
        )
        return chunk
    if event.kind == "usage":
        chunk.usage.CopyFrom(_usage_proto(event.delta.usage))
        return chunk
    choice = chunk.choices.add(index=event.index)
    if event.kind == "role":
        choice.delta.role = "assistant"
        choice.delta.content = ""
    elif event.kind == "finish":
        choice.finish_reason = event.delta.finish_reason
    else:
        d = event.delta
        if d.content:
            choice.delta.content = d.content
        if d.reasoning:
            choice.delta.reasoning_content = d.reasoning
            choice.delta.reasoning = d.reasoning
        choice.delta.tool_calls.extend(_tool_delta_proto(t) for t in d.tool_calls)
        if d.logprobs:
            choice.logprobs.CopyFrom(_logprobs_proto(d.logprobs))
    return chunk


# -- server-sent events ---------------------------------------------------------------------------------


def _usage_json(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def _logprobs_json(logprobs: list[TokenLogprob]) -> dict[str, Any] | None:
    if not logprobs:
        return None
    return {
        "content": [
            {
                "token": lp.token,
                "logprob": lp.logprob,
                "bytes": list(lp.bytes),
                "top_logprobs": [
                    {"token": t.token, "logprob": t.logprob, "bytes": list(t.bytes)} for t in lp.top_logprobs
                ],
            }
            for lp in logprobs
        ]
    }


def _tool_delta_json(piece: ToolCallPiece) -> dict[str, Any]:
    out: dict[str, Any] = {"index": piece.index}
    function: dict[str, Any] = {}
    if piece.id:
        out["id"] = piece.id
        out["type"] = "function"
    if piece.name:
        function["name"] = piece.name
    function["arguments"] = piece.arguments
    out["function"] = function
    return out


def _delta_json(delta: Delta) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if delta.content:
        out["content"] = delta.content
    if delta.reasoning:
        out["reasoning_content"] = delta.reasoning
        out["reasoning"] = delta.reasoning
    if delta.tool_calls:
        out["tool_calls"] = [_tool_delta_json(t) for t in delta.tool_calls]
    return out


def event_to_sse(event: StreamEvent, completion_id: str, created: int, model: str, include_usage: bool) -> bytes:
    if event.kind == "error":
        payload: dict[str, Any] = event.error.openai_body()
    else:
        payload = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model}
        if event.kind == "usage":
            payload["choices"] = []
            payload["usage"] = _usage_json(event.delta.usage)
        else:
            choice: dict[str, Any] = {"index": event.index, "delta": {}, "logprobs": None, "finish_reason": None}
            if event.kind == "role":
                choice["delta"] = {"role": "assistant", "content": ""}
            elif event.kind == "finish":
                choice["finish_reason"] = event.delta.finish_reason
            else:
                choice["delta"] = _delta_json(event.delta)
                choice["logprobs"] = _logprobs_json(event.delta.logprobs)
            payload["choices"] = [choice]
            if include_usage:
                payload["usage"] = None
    return b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"
