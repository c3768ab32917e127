"""Responses domain pieces without servers: the builder's items from generation steps, and the servicer's
`error` event for a stream that breaks after it began, validated against OpenAI's document."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from google.protobuf import json_format

from jan.v1 import inference_service_pb2 as inference_pb
from jan.v1 import responses_service_pb2 as pb
from services.chat.responses_output import ResponseBuilder
from services.chat.responses_request import parse
from services.chat.responses_servicer import _with_error_event
from services.common.errors import InvalidArgument, Unavailable
from tests.support.openai_spec import assert_matches, assert_route, component

ECHO = parse(json_format.ParseDict({"model": "m", "input": "hi"}, pb.ResponseParams()), stream=True).echo


def step(content: str = "", reasoning: str = "", call: tuple[str, str] | None = None) -> inference_pb.GenerateResponse:
    out = inference_pb.GenerateResponse(content=content, reasoning_content=reasoning)
    if call is not None:
        piece = out.tool_calls.add(index=0, id="call_1")
        piece.function.name, piece.function.arguments = call
    return out


def test_whitespace_between_reasoning_and_a_tool_call_makes_no_message() -> None:
    builder = ResponseBuilder("resp_1", ECHO)
    events = builder.started() + builder.step(step(reasoning="think")) + builder.step(step(content="\n\n"))
    events += builder.step(step(call=("get_weather", '{"city": "Paris"}'))) + builder.finish(None)
    assert [item["type"] for item in builder.response["output"]] == ["reasoning", "function_call"]
    for event in events:
        assert_route("POST", "/v1/responses", event, "text/event-stream")
    assert [e["sequence_number"] for e in events] == list(range(len(events)))


def test_an_answer_of_only_whitespace_is_still_a_message() -> None:
    builder = ResponseBuilder("resp_2", ECHO)
    builder.started()
    builder.step(step(content=" "))
    builder.finish(None)
    (message,) = builder.response["output"]
    assert message["type"] == "message" and message["content"][0]["text"] == " "


async def events_then(failure: Exception, count: int) -> AsyncIterator[dict]:
    for n in range(count):
        yield {"type": "response.in_progress", "sequence_number": n}
    raise failure


async def test_a_stream_that_breaks_after_it_began_ends_with_an_error_event() -> None:
    got = [e async for e in _with_error_event(events_then(Unavailable("inference is gone"), 2))]
    assert [e["type"] for e in got] == ["response.in_progress", "response.in_progress", "error"]
    error = got[-1]
    assert error["sequence_number"] == 2 and error["message"] == "inference is gone"
    assert_matches(component("ResponseErrorEvent"), error, "error event")
    unexpected = [e async for e in _with_error_event(events_then(RuntimeError("boom"), 1))]
    assert unexpected[-1]["type"] == "error" and "boom" not in unexpected[-1]["message"]


async def test_a_failure_before_the_first_event_is_the_call_status() -> None:
    with pytest.raises(InvalidArgument):
        async for _ in _with_error_event(events_then(InvalidArgument("bad", param="input"), 0)):
            pass
