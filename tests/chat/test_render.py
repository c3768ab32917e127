"""Streams and completions are rendered in OpenAI's exact shapes."""

from __future__ import annotations

import json

from services.chat.domain import Choice, Completion, Delta, StreamEvent, ToolCallPiece, Usage
from services.chat.render import SSE_DONE, completion_to_proto, event_to_proto, event_to_sse
from services.common.errors import Unavailable


def sse(event: StreamEvent, include_usage: bool = False) -> dict:
    raw = event_to_sse(event, "chatcmpl-1", 1700000000, "m", include_usage)
    assert raw.startswith(b"data: ") and raw.endswith(b"\n\n")
    return json.loads(raw[6:])


def test_first_chunk_carries_the_role() -> None:
    chunk = sse(StreamEvent("role"))
    assert chunk == {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "m",
        "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
        ],
    }


def test_tool_call_pieces_follow_openai() -> None:
    first = sse(StreamEvent("delta", Delta(tool_calls=[ToolCallPiece(0, "call_1", "f", "")])))
    more = sse(StreamEvent("delta", Delta(tool_calls=[ToolCallPiece(0, None, None, '{"a":')])))
    assert first["choices"][0]["delta"]["tool_calls"] == [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}
    ]
    assert more["choices"][0]["delta"]["tool_calls"] == [{"index": 0, "function": {"arguments": '{"a":'}}]


def test_usage_chunk_has_no_choices_and_others_say_null() -> None:
    usage = sse(StreamEvent("usage", Delta(usage=Usage(5, 3))), include_usage=True)
    assert usage["choices"] == [] and usage["usage"]["total_tokens"] == 8
    assert sse(StreamEvent("delta", Delta(content="x")), include_usage=True)["usage"] is None
    assert "usage" not in sse(StreamEvent("delta", Delta(content="x")))


def test_reasoning_is_sent_under_both_names() -> None:
    delta = sse(StreamEvent("delta", Delta(reasoning="hmm")))["choices"][0]["delta"]
    assert delta == {"reasoning_content": "hmm", "reasoning": "hmm"}


def test_error_event_is_openai_error_shape() -> None:
    body = sse(StreamEvent("error", error=Unavailable("engine died")))
    assert body == {
        "error": {"message": "engine died", "type": "service_unavailable_error", "param": None, "code": None}
    }
    chunk = event_to_proto(StreamEvent("error", error=Unavailable("engine died")), "c", 1, "m")
    assert chunk.error.message == "engine died" and not chunk.choices
    assert SSE_DONE == b"data: [DONE]\n\n"


def test_completion_with_tool_calls_has_no_content() -> None:
    completion = Completion(
        id="c",
        created=1,
        model="m",
        choices=[Choice(0, tool_calls=[ToolCallPiece(0, "call_1", "f", "{}")], finish_reason="tool_calls")],
        usage=Usage(3, 4),
    )
    proto = completion_to_proto(completion)
    message = proto.choices[0].message
    assert not message.HasField("content") and message.tool_calls[0].function.name == "f"
    assert proto.usage.total_tokens == 7 and proto.choices[0].finish_reason == "tool_calls"


def test_each_answer_keeps_its_index() -> None:
    chunk = sse(StreamEvent("delta", Delta(index=2, content="third")))
    assert chunk["choices"] == [{"index": 2, "delta": {"content": "third"}, "logprobs": None, "finish_reason": None}]
    assert sse(StreamEvent("finish", Delta(index=1, finish_reason="length")))["choices"][0]["index"] == 1
    assert event_to_proto(StreamEvent("role", Delta(index=1)), "c", 1, "m").choices[0].index == 1
    completion = Completion(id="c", created=1, model="m")
    for delta in (Delta(index=1, content="b"), Delta(index=0, content="a", finish_reason="stop"), Delta(index=1)):
        completion.add(delta)
    proto = completion_to_proto(completion)
    assert [(c.index, c.message.content) for c in proto.choices] == [(0, "a"), (1, "b")]
