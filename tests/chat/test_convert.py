"""The OpenAI request becomes the inference request proto to proto; answers render in OpenAI's exact shapes."""

from __future__ import annotations

import json

import pytest
from google.protobuf import json_format

from jan.v1 import chat_service_pb2 as pb
from jan.v1 import inference_service_pb2 as inference_pb
from jan.v1 import types_pb2
from services.chat import convert, openai_json
from services.chat.domain import (
    ChoiceFinished,
    Completion,
    Generated,
    RoleStarted,
    StreamEvent,
    StreamFailed,
    StreamHeader,
    UsageCounted,
)
from services.common.errors import InvalidArgument, Unavailable

HEADER = StreamHeader("chatcmpl-1", 1700000000, "m")
BASE = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def params(**fields: object) -> pb.ChatCompletionParams:
    return json_format.ParseDict({**BASE, **fields}, pb.ChatCompletionParams())


def request(*, stream: bool = False, **fields: object):
    return convert.chat_request(params(**fields), "chatcmpl-1", stream=stream)


def sse(event: StreamEvent, include_usage: bool = False) -> dict:
    raw = convert.sse(convert.chunk(event, HEADER), include_usage=include_usage)
    assert raw.startswith(b"data: ") and raw.endswith(b"\n\n")
    return json.loads(raw[6:])


def step(**fields: object) -> inference_pb.GenerateResponse:
    return json_format.ParseDict(fields, inference_pb.GenerateResponse())


# -- requests ---------------------------------------------------------------------------------------------


def test_messages_and_tools_are_copied_as_they_are() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ]
    chat = request(messages=messages, tools=tools)
    sent = params(messages=messages, tools=tools)
    assert list(chat.generate.messages) == list(sent.messages)
    assert list(chat.generate.tools) == list(sent.tools)
    assert chat.generate.model == "m" and chat.generate.request_id == "chatcmpl-1"


def test_sampling_fields_are_carried_by_name() -> None:
    chat = request(
        temperature=0.5,
        top_p=0.9,
        max_completion_tokens=7,
        max_tokens=99,
        stop="END",
        seed="42",
        presence_penalty=0.1,
        frequency_penalty=-0.2,
        logprobs=True,
        top_logprobs=3,
        logit_bias={"11": 5},
        top_k=20,
        min_p=0.05,
        repetition_penalty=1.1,
        min_tokens=2,
        ignore_eos=True,
        n=2,
    )
    s = chat.generate.sampling
    assert (s.temperature, s.top_p, s.max_tokens, list(s.stop), s.seed) == (0.5, 0.9, 7, ["END"], 42)
    assert (s.presence_penalty, s.frequency_penalty, s.logprobs, s.top_logprobs) == (0.1, -0.2, True, 3)
    assert dict(s.logit_bias) == {11: 5.0} and (s.top_k, s.min_p, s.repetition_penalty) == (20, 0.05, 1.1)
    assert (s.min_tokens, s.ignore_eos, s.n, chat.n) == (2, True, 2, 2)
    assert not request().generate.sampling.HasField("temperature")  # unset stays unset: the engine's default


def test_every_shared_sampling_field_is_copied() -> None:
    """The one list of names covers every SamplingParams field the OpenAI request also has (the three that
    differ in shape are converted by hand)."""
    chat_fields = set(convert.PARAM_FIELDS)
    sampling_fields = {f.name for f in inference_pb.SamplingParams.DESCRIPTOR.fields}
    assert set(convert.SHARED_SAMPLING_FIELDS) == (sampling_fields & chat_fields) - {"stop", "logit_bias"}


def test_tool_choice_shapes() -> None:
    tools = [{"type": "function", "function": {"name": "get_weather"}}]
    named = request(tools=tools, tool_choice={"type": "function", "function": {"name": "get_weather"}})
    assert named.generate.tool_choice.function_name == "get_weather"
    assert request(tool_choice="required").generate.tool_choice.mode == "required"
    assert not request().generate.HasField("tool_choice")


def test_reasoning_effort_reaches_the_chat_template() -> None:
    chat = request(reasoning_effort="low", chat_template_kwargs={"enable_thinking": False})
    assert json_format.MessageToDict(chat.generate.chat_template_kwargs) == {
        "enable_thinking": False,
        "reasoning_effort": "low",
    }


def test_streaming_options() -> None:
    assert request(stream=True, stream_options={"include_usage": True}).include_usage
    assert not request(stream=True).include_usage
    assert not request(parallel_tool_calls=False).parallel_tool_calls
    assert request(parallel_tool_calls=False).generate.parallel_tool_calls is False
    assert not request().generate.HasField("parallel_tool_calls")


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"max_completion_tokens": -3}, "max_completion_tokens"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"stop": 5}, "stop"),
        ({"audio": {"voice": "alloy"}}, "audio"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"store": True, "n": 2, "temperature": 1}, "n"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"service_tier": "flex"}, "service_tier"),
        ({"verbosity": "high"}, "verbosity"),
        ({"tool_choice": {"type": "function"}}, "tool_choice"),
        ({"tool_choice": 3}, "tool_choice"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"logit_bias": {"abc": 1}}, "logit_bias"),
        ({"logit_bias": {"²": 1}}, "logit_bias"),  # str.isdigit() is true for it; int() is not
        ({"logit_bias": {"99999999999": 1}}, "logit_bias"),  # does not fit a token id
        ({"metadata": {str(i): "v" for i in range(17)}}, "metadata"),
    ],
)
def test_openai_only_fields_are_checked_here(fields: dict, param: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        request(**fields)
    assert raised.value.param == param


@pytest.mark.parametrize(
    "fields",
    [
        {"temperature": 9},
        {"messages": []},
        {"messages": [{"role": "wizard", "content": "x"}]},
        {"tools": [{"type": "function", "function": {"name": "bad name"}}]},
        {"tool_choice": "sometimes"},
        {"response_format": {"type": "xml"}},
        {"n": 0},
        {"top_logprobs": 3},
        {"model": ""},
    ],
)
def test_shared_fields_are_left_to_inference(fields: dict) -> None:
    """What the inference API can express, inference checks (one owner per rule): chat passes it on."""
    request(**fields)


# -- answers ----------------------------------------------------------------------------------------------


def test_first_chunk_carries_the_role() -> None:
    assert sse(RoleStarted(0)) == {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "m",
        "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
        ],
    }


def test_tool_call_pieces_follow_openai() -> None:
    first = sse(
        Generated(
            step(
                tool_calls=[
                    {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}
                ]
            )
        )
    )
    more = sse(Generated(step(tool_calls=[{"index": 0, "function": {"arguments": '{"a":'}}])))
    assert first["choices"][0]["delta"]["tool_calls"] == [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}
    ]
    assert more["choices"][0]["delta"] == {"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]}


def test_usage_chunk_has_no_choices_and_others_say_null() -> None:
    usage = types_pb2.Usage(prompt_tokens=5, completion_tokens=3, total_tokens=8)
    chunk = sse(UsageCounted(usage), include_usage=True)
    assert chunk["choices"] == [] and chunk["usage"]["total_tokens"] == 8
    assert sse(Generated(step(content="x")), include_usage=True)["usage"] is None
    assert "usage" not in sse(Generated(step(content="x")))


def test_reasoning_is_sent_under_both_names() -> None:
    delta = sse(Generated(step(reasoning_content="hmm")))["choices"][0]["delta"]
    assert delta == {"reasoning_content": "hmm", "reasoning": "hmm"}


def test_finish_chunk() -> None:
    chunk = sse(ChoiceFinished(1, "length"))
    assert chunk["choices"] == [{"index": 1, "delta": {}, "logprobs": None, "finish_reason": "length"}]


def test_error_event_is_openai_error_shape() -> None:
    body = sse(StreamFailed(Unavailable("engine died")))
    assert body == {
        "error": {"message": "engine died", "type": "service_unavailable_error", "param": None, "code": None}
    }
    chunk = convert.chunk(StreamFailed(Unavailable("engine died")), HEADER)
    assert chunk.error.message == "engine died" and not chunk.choices
    assert convert.SSE_DONE == b"data: [DONE]\n\n"


@pytest.mark.parametrize(
    "event",
    [
        RoleStarted(2),
        Generated(step(index=1, content="a", reasoning_content="b", logprobs=[{"token": "a", "logprob": -0.5}])),
        Generated(step(tool_calls=[{"index": 0, "id": "c", "type": "function", "function": {"name": "f"}}])),
        ChoiceFinished(0, "tool_calls"),
        UsageCounted(types_pb2.Usage(prompt_tokens=1, completion_tokens=2, total_tokens=3)),
    ],
)
def test_sse_and_native_chunk_are_one_rendering(event: StreamEvent) -> None:
    """The SSE event is the native chunk printed: every field the native client gets, the REST client gets."""
    native = convert.chunk(event, HEADER)
    printed = json.loads(convert.sse(native, include_usage=False)[6:])
    assert json_format.ParseDict(printed, pb.StreamChatCompletionResponse(), ignore_unknown_fields=False) == native


def test_whole_completion_with_tool_calls_has_null_content() -> None:
    answer = step(
        tool_calls=[{"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        finish_reason="FINISH_REASON_TOOL_CALLS",
        usage={"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    )
    response = convert.completion_response(Completion("c", 1, "m", [answer], answer.usage))
    message = response.choices[0].message
    assert not message.HasField("content") and message.tool_calls[0].function.name == "f"
    assert response.usage.total_tokens == 7 and response.choices[0].finish_reason == "tool_calls"
    body = json.loads(openai_json.dumps(response))
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": None,
        "refusal": None,
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
    }
    assert body["choices"][0]["logprobs"] is None


def test_each_answer_keeps_its_index() -> None:
    answers = [step(content="a", finish_reason="FINISH_REASON_STOP"), step(index=1, content="b")]
    response = convert.completion_response(Completion("c", 1, "m", answers, None))
    assert [(c.index, c.message.content, c.finish_reason) for c in response.choices] == [
        (0, "a", "stop"),
        (1, "b", "stop"),
    ]
    body = json.loads(openai_json.dumps(response))
    assert "usage" not in body and body["choices"][1]["message"]["content"] == "b"
