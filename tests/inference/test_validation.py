"""Request checks that need no model: each bad field is named in `param`."""

from __future__ import annotations

import pytest

from services.common.errors import InvalidArgument
from services.inference.domain import GenerationRequest, SamplingOptions
from services.inference.validation import validate_request

TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}


def _req(**kw: object) -> GenerationRequest:
    kw.setdefault("messages", [{"role": "user", "content": "hi"}])
    return GenerationRequest(request_id="r", model="m", **kw)  # type: ignore[arg-type]


def _param(req: GenerationRequest) -> str | None:
    with pytest.raises(InvalidArgument) as e:
        validate_request(req)
    return e.value.param


def test_valid_request_passes() -> None:
    validate_request(_req(tools=[TOOL], tool_choice="auto", sampling=SamplingOptions(temperature=0.7, top_p=0.9)))
    validate_request(_req(messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}]))
    validate_request(
        _req(
            messages=[
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            ]
        )
    )  # fmt: skip


@pytest.mark.parametrize(
    ("sampling", "param"),
    [
        (SamplingOptions(temperature=-0.1), "temperature"),
        (SamplingOptions(temperature=float("nan")), "temperature"),
        (SamplingOptions(top_p=0.0), "top_p"),
        (SamplingOptions(top_p=1.5), "top_p"),
        (SamplingOptions(max_tokens=0), "max_tokens"),
        (SamplingOptions(n=0), "n"),
        (SamplingOptions(n=129), "n"),
        (SamplingOptions(n=2, temperature=0.0), "n"),
        (SamplingOptions(presence_penalty=3), "presence_penalty"),
        (SamplingOptions(top_logprobs=3), "top_logprobs"),
        (SamplingOptions(stop=[""]), "stop"),
        (SamplingOptions(logit_bias={5: 500.0}), "logit_bias"),
        (SamplingOptions(min_tokens=9, max_tokens=3), "min_tokens"),
    ],
)
def test_bad_sampling_names_the_field(sampling: SamplingOptions, param: str) -> None:
    assert _param(_req(sampling=sampling)) == param


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([], "messages"),
        ([{"role": "wizard", "content": "hi"}], "messages[0].role"),
        ([{"role": "user", "content": "hi"}, {"role": "user"}], "messages[1].content"),
        ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}], "messages[0].content[0]"),
        ([{"role": "tool", "content": "x"}], "messages[0].tool_call_id"),
    ],
)
def test_bad_messages_name_the_field(messages: list, param: str) -> None:
    assert _param(_req(messages=messages)) == param


def test_malformed_tool_schema_is_rejected() -> None:
    bad = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": 5}}}
    assert _param(_req(tools=[TOOL, bad])) == "tools[1].function.parameters"
    not_object = {"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}
    assert _param(_req(tools=[not_object])) == "tools[0].function.parameters"
    assert _param(_req(tools=[{"type": "function", "function": {"name": "bad name!"}}])) == "tools[0].function.name"


def test_tool_choice_must_match_tools() -> None:
    assert _param(_req(tool_choice="required")) == "tool_choice"
    named = {"type": "function", "function": {"name": "other"}}
    assert _param(_req(tools=[TOOL], tool_choice=named)) == "tool_choice"


def test_structured_output_shapes() -> None:
    assert _param(_req(structured_outputs={"regex": "a", "choice": ["b"]})) == "structured_outputs"
    assert _param(_req(structured_outputs={"nonsense": 1})) == "structured_outputs"
    assert _param(_req(structured_outputs={"json": {"type": 12}})) == "structured_outputs.json"
    rf = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object", "required": "no"}}}
    assert _param(_req(response_format=rf)) == "response_format.json_schema.schema"
    assert _param(_req(response_format={"type": "xml"})) == "response_format.type"
    assert (
        _param(_req(response_format={"type": "json_object"}, structured_outputs={"regex": "a"})) == "structured_outputs"
    )
