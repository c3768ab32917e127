"""Request checks that need no model: each bad field is named in `param`."""

from __future__ import annotations

import jsonschema
import pytest
from google.protobuf import json_format

from jan.v1 import inference_service_pb2 as pb
from services.common.errors import InvalidArgument
from services.inference import validation
from services.inference.validation import validate_request

TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}


def _req(sampling: pb.SamplingParams | None = None, **kw: object) -> pb.GenerateRequest:
    """A request from OpenAI-like JSON in the proto's shape; sampling as a proto (JSON cannot spell NaN)."""
    kw.setdefault("messages", [{"role": "user", "content": "hi"}])
    req = json_format.ParseDict({"request_id": "r", "model": "m", **kw}, pb.GenerateRequest())
    if sampling is not None:
        req.sampling.CopyFrom(sampling)
    return req


def _param(req: pb.GenerateRequest) -> str | None:
    with pytest.raises(InvalidArgument) as e:
        validate_request(req)
    return e.value.param


def test_valid_request_passes() -> None:
    validate_request(
        _req(tools=[TOOL], tool_choice={"mode": "auto"}, sampling=pb.SamplingParams(temperature=0.7, top_p=0.9))
    )
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
        (pb.SamplingParams(temperature=-0.1), "temperature"),
        (pb.SamplingParams(temperature=float("nan")), "temperature"),
        (pb.SamplingParams(temperature=float("inf")), "temperature"),
        (pb.SamplingParams(top_p=0.0), "top_p"),
        (pb.SamplingParams(top_p=1.5), "top_p"),
        (pb.SamplingParams(max_tokens=0), "max_tokens"),
        (pb.SamplingParams(n=0), "n"),
        (pb.SamplingParams(n=129), "n"),
        (pb.SamplingParams(n=2, temperature=0.0), "n"),
        (pb.SamplingParams(presence_penalty=3), "presence_penalty"),
        (pb.SamplingParams(top_logprobs=3), "top_logprobs"),
        (pb.SamplingParams(stop=[""]), "stop"),
        (pb.SamplingParams(logit_bias={5: 500.0}), "logit_bias"),
        (pb.SamplingParams(min_tokens=9, max_tokens=3), "min_tokens"),
        (pb.SamplingParams(repetition_penalty=2.5), "repetition_penalty"),
    ],
)
def test_bad_sampling_names_the_field(sampling: pb.SamplingParams, param: str) -> None:
    assert _param(_req(sampling=sampling)) == param


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([], "messages"),
        ([{"role": "wizard", "content": "hi"}], "messages[0].role"),
        ([{"role": "user", "content": "hi"}, {"role": "user"}], "messages[1].content"),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
            "messages[0].content[0].type",
        ),
        ([{"role": "assistant", "content": None}], "messages[0].content"),
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
    assert _param(_req(tool_choice={"mode": "required"})) == "tool_choice"
    assert _param(_req(tools=[TOOL], tool_choice={"function_name": "other"})) == "tool_choice"


def test_structured_output_shapes() -> None:
    assert _param(_req(structured_outputs={"regex": "a", "choice": ["b"]})) == "structured_outputs"
    assert _param(_req(structured_outputs={})) == "structured_outputs"  # none of the four
    assert _param(_req(structured_outputs={"json": {"type": 12}})) == "structured_outputs.json"
    rf = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object", "required": "no"}}}
    assert _param(_req(response_format=rf)) == "response_format.json_schema.schema"
    assert _param(_req(response_format={"type": "xml"})) == "response_format.type"
    assert (
        _param(_req(response_format={"type": "json_object"}, structured_outputs={"regex": "a"})) == "structured_outputs"
    )


def test_empty_model_is_named() -> None:
    assert _param(_req(model="")) == "model"


def test_tool_schema_check_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients send the same tools with every request: the metaschema check runs once per distinct schema."""
    validation._schema_problem.cache_clear()
    checked: list[object] = []
    validator_for = jsonschema.validators.validator_for

    def counting(schema: object, *args: object, **kwargs: object) -> object:
        checked.append(schema)  # jsonschema also calls it for the metaschemas while checking
        return validator_for(schema, *args, **kwargs)

    monkeypatch.setattr(jsonschema.validators, "validator_for", counting)
    params = TOOL["function"]["parameters"]
    validate_request(_req(tools=[TOOL]))
    validate_request(_req(tools=[TOOL], messages=[{"role": "user", "content": "again"}]))
    assert checked.count(params) == 1
    assert validation._schema_problem.cache_info().hits == 1
    bad = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": 5}}}
    for _ in range(2):  # a refused schema is remembered too
        assert _param(_req(tools=[bad])) == "tools[0].function.parameters"
    assert checked.count(bad["function"]["parameters"]) == 1
