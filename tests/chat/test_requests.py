"""Validation of OpenAI chat completion bodies: what is accepted, and what is refused by name."""

from __future__ import annotations

import pytest

from services.chat.requests import parse_chat_request, reject_unknown_fields
from services.common.errors import InvalidArgument

BASE = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def parse(**fields):
    return parse_chat_request({**BASE, **fields}, stream=fields.pop("_stream", False))


def test_minimal_request() -> None:
    request = parse()
    assert request.model == "m" and request.messages == [{"role": "user", "content": "hi"}]
    assert request.sampling.max_tokens is None and not request.stream


def test_sampling_fields_are_carried() -> None:
    request = parse(
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
    )
    s = request.sampling
    assert (s.temperature, s.top_p, s.max_tokens, s.stop, s.seed) == (0.5, 0.9, 7, ("END",), 42)
    assert (s.presence_penalty, s.frequency_penalty, s.logprobs, s.top_logprobs) == (0.1, -0.2, True, 3)
    assert s.logit_bias == {11: 5.0} and (s.top_k, s.min_p, s.repetition_penalty) == (20, 0.05, 1.1)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": 2.5}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_completion_tokens": -3}, "max_completion_tokens"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
        ({"n": 0}, "n"),
        ({"n": 129}, "n"),
        ({"audio": {"voice": "alloy"}}, "audio"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"store": True}, "store"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        ({"messages": [{"role": "user", "content": [{"type": "video"}]}]}, "messages[0].content[0].type"),
        ({"model": ""}, "model"),
        ({"tools": [{"type": "function", "function": {"name": "bad name"}}]}, "tools[0].function.name"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}]},
            "tools[0].function.parameters",
        ),
        ({"tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"response_format": {"type": "xml"}}, "response_format.type"),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
            "response_format.json_schema.schema",
        ),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"logit_bias": {"abc": 1}}, "logit_bias"),
    ],
)
def test_bad_fields_are_named(fields: dict, param: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        parse(**fields)
    assert raised.value.param == param


def test_unknown_top_level_field_is_refused_like_openai() -> None:
    with pytest.raises(InvalidArgument) as raised:
        reject_unknown_fields(["model", "messages", "temprature"], ["model", "messages", "temperature"])
    assert raised.value.param == "temprature"
    assert raised.value.message == "Unrecognized request argument supplied: temprature"


def test_reasoning_effort_reaches_the_chat_template() -> None:
    request = parse(reasoning_effort="low", chat_template_kwargs={"enable_thinking": False})
    assert request.chat_template_kwargs == {"enable_thinking": False, "reasoning_effort": "low"}


def test_include_usage_only_when_streaming() -> None:
    request = parse_chat_request({**BASE, "stream_options": {"include_usage": True}}, stream=True)
    assert request.include_usage


def test_named_tool_choice_is_normalized() -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    request = parse(tools=tools, tool_choice={"type": "function", "function": {"name": "get_weather"}})
    assert request.tool_choice == {"type": "function", "function": {"name": "get_weather"}}
