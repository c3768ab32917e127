"""The pure parts of the vLLM adapter: the tool-call grammar's whitespace bound."""

from __future__ import annotations

import json

from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
from vllm.sampling_params import StructuredOutputsParams

from services.inference.vllm_adapter import compact_tool_calls

# As vLLM's Hermes structural tag dumps it, trimmed: one call tag whose content is the arguments' schema.
SCHEMA = {"type": "object", "properties": {"type": {"type": "string", "const": "json_schema"}}}
TAG = {
    "type": "structural_tag",
    "format": {
        "type": "tags_with_separator",
        "tags": [
            {
                "type": "tag",
                "begin": '<tool_call>{"name": "f", "arguments": ',
                "content": {"type": "json_schema", "json_schema": SCHEMA, "style": "json", "max_whitespace_cnt": None},
                "end": "}</tool_call>",
            }
        ],
        "separator": "",
    },
}


def _request(structured_outputs: StructuredOutputsParams | None) -> ChatCompletionRequest:
    request = ChatCompletionRequest.model_validate({"model": "m", "messages": [{"role": "user", "content": "x"}]})
    request.structured_outputs = structured_outputs
    return request


def test_every_json_format_of_the_tag_allows_one_whitespace_in_a_row_and_the_schema_is_untouched() -> None:
    request = _request(StructuredOutputsParams(structural_tag=json.dumps(TAG)))
    compact_tool_calls(request)
    assert request.structured_outputs is not None and request.structured_outputs.structural_tag is not None
    tag = json.loads(request.structured_outputs.structural_tag)
    (call,) = tag["format"]["tags"]
    assert call["content"]["max_whitespace_cnt"] == 1
    assert call["content"]["json_schema"] == SCHEMA  # a property that looks like a format is the caller's
    assert {k: v for k, v in call.items() if k != "content"} == {
        k: v for k, v in TAG["format"]["tags"][0].items() if k != "content"
    }


def test_other_constraints_and_none_are_left_alone() -> None:
    regex = StructuredOutputsParams(regex="a+")
    request = _request(regex)
    compact_tool_calls(request)
    assert request.structured_outputs == StructuredOutputsParams(regex="a+")
    bare = _request(None)
    compact_tool_calls(bare)
    assert bare.structured_outputs is None
