"""Tool calls and reasoning, parsed by vLLM's Hermes and Qwen3 parsers, streaming and whole.

The tiny model writes gibberish, so a regex forces the Qwen3 output; a logit bias makes it spell the
markers with their special tokens (`<think>` is one token), as a trained Qwen3 does.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from jan.v1 import inference_service_pb2 as pb
from services.common.generation import FINISH_REASON_NAMES, join_answers, join_steps
from tests.inference.conftest import chat

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
REASONING = "The user wants the weather; I should call the tool."
FORCED = (
    r"<think>\nThe user wants the weather; I should call the tool\.\n</think>\n\n"
    r'<tool_call>\n\{"name": "get_weather", "arguments": \{"city": "Paris"\}\}\n</tool_call>'
)

pytestmark = pytest.mark.engine


def _marker_bias(hf_tokenizer: Any) -> dict[int, float]:
    ids = hf_tokenizer.convert_tokens_to_ids(["<think>", "</think>", "<tool_call>", "</tool_call>"])
    return dict.fromkeys(ids, 100.0)


def _request(hf_tokenizer: Any, regex: str = FORCED) -> Any:
    return chat(
        "What's the weather in Paris?",
        tools=[WEATHER],
        structured_outputs={"regex": regex},
        chat_template_kwargs={"enable_thinking": True},
        sampling={"max_tokens": 80, "temperature": 0.0, "logit_bias": _marker_bias(hf_tokenizer)},
    )


def _assert_tool_call_answer(answer: pb.GenerateResponse) -> None:
    assert answer.reasoning_content.strip() == REASONING
    assert answer.content.strip() == ""
    (call,) = answer.tool_calls
    assert call.function.name == "get_weather"
    assert call.id and call.type == "function"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert FINISH_REASON_NAMES[answer.finish_reason] == "tool_calls"
    assert answer.HasField("usage")
    assert 0 < answer.usage.completion_tokens_details.reasoning_tokens < answer.usage.completion_tokens


async def test_forced_tool_call_and_reasoning_streaming(engine: Any, hf_tokenizer: Any) -> None:
    deltas = [d async for d in engine.generate(_request(hf_tokenizer))]
    assert len(deltas) > 3  # really streamed
    assert FINISH_REASON_NAMES[deltas[-1].finish_reason] == "tool_calls"
    _assert_tool_call_answer(join_steps(deltas))


async def test_forced_tool_call_and_reasoning_whole(engine: Any, hf_tokenizer: Any) -> None:
    _assert_tool_call_answer((await engine.generate_whole(_request(hf_tokenizer)))[0])


@pytest.mark.parametrize("stream", [True, False])
async def test_each_of_n_answers_is_parsed_on_its_own(engine: Any, hf_tokenizer: Any, stream: bool) -> None:
    req = _request(hf_tokenizer)
    # The regex forces the same text into every answer; sampled, each may tokenize it differently.
    req.sampling.n, req.sampling.temperature, req.sampling.logprobs = 3, 1.0, True
    if stream:
        deltas = [d async for d in engine.generate(req)]
        assert deltas[-1].HasField("usage") and not any(d.HasField("usage") for d in deltas[:-1])
        assert {d.index for d in deltas} == {0, 1, 2}
        answers = join_answers(deltas, 3)
        usage = deltas[-1].usage  # on the last delta, whichever answer finished last
    else:
        answers = await engine.generate_whole(req)
        assert answers[0].HasField("usage") and not any(a.HasField("usage") for a in answers[1:])
        usage = answers[0].usage
    assert [a.index for a in answers] == [0, 1, 2]
    for answer in answers:
        assert answer.reasoning_content.strip() == REASONING and answer.tool_calls[0].function.name == "get_weather"
        assert FINISH_REASON_NAMES[answer.finish_reason] == "tool_calls"
        assert json.loads(answer.tool_calls[0].function.arguments) == {"city": "Paris"}
    assert usage.completion_tokens == sum(len(a.logprobs) for a in answers)
    assert 0 < usage.completion_tokens_details.reasoning_tokens < usage.completion_tokens
    one = (await engine.generate_whole(_request(hf_tokenizer)))[0].usage
    assert usage.prompt_tokens == one.prompt_tokens  # the prompt counts once


@pytest.mark.parametrize("stream", [True, False])
async def test_reasoning_then_content(engine: Any, hf_tokenizer: Any, stream: bool) -> None:
    req = _request(hf_tokenizer, r"<think>\nShort\.\n</think>\n\nThe answer is 4\.")
    answer = join_steps([d async for d in engine.generate(req)]) if stream else (await engine.generate_whole(req))[0]
    assert answer.reasoning_content.strip() == "Short."
    assert answer.content.strip() == "The answer is 4."
    assert not answer.tool_calls
    assert FINISH_REASON_NAMES[answer.finish_reason] == "stop"


async def test_tool_choice_none_leaves_text_unparsed(engine: Any, hf_tokenizer: Any) -> None:
    req = _request(hf_tokenizer)
    req.tool_choice.mode = "none"
    (whole,) = await engine.generate_whole(req)
    assert not whole.tool_calls
    assert "<tool_call>" in whole.content


def _enum_tool(name: str, field: str, values: list[str]) -> dict:
    schema = {
        "type": "object",
        "properties": {field: {"enum": values}},
        "required": [field],
        "additionalProperties": False,
    }
    # strict: vLLM pins the arguments to the schema too, not just the call envelope; the random model
    # would otherwise write free-form arguments forever.
    return {"type": "function", "function": {"name": name, "strict": True, "parameters": schema}}


UNIT = _enum_tool("set_unit", "unit", ["c", "f"])
MODE = _enum_tool("set_mode", "mode", ["on", "off"])


@pytest.fixture(scope="session")
def no_whitespace_bias(hf_tokenizer: Any) -> dict[int, float]:
    """The random model would pad JSON arguments with whitespace until max_tokens."""
    vocab = hf_tokenizer.get_vocab()
    return {i: -100.0 for t, i in vocab.items() if not hf_tokenizer.convert_tokens_to_string([t]).strip()}


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("choice", [{"mode": "required"}, {"function_name": "set_unit"}])
async def test_forced_tool_choice(engine: Any, no_whitespace_bias: dict, choice: Any, stream: bool) -> None:
    req = chat(
        "Which unit?",
        tools=[MODE, UNIT],
        tool_choice=choice,
        parallel_tool_calls=False,
        sampling={"max_tokens": 60, "temperature": 0.0, "logit_bias": no_whitespace_bias},
    )
    answer = join_steps([d async for d in engine.generate(req)]) if stream else (await engine.generate_whole(req))[0]
    required = choice == {"mode": "required"}
    (call,) = answer.tool_calls
    assert call.function.name in ("set_unit", "set_mode") if required else call.function.name == "set_unit"
    assert json.loads(call.function.arguments) in ({"unit": "c"}, {"unit": "f"}, {"mode": "on"}, {"mode": "off"})
    # OpenAI: "tool_calls" when the model had to call some tool, "stop" when the caller named it.
    assert FINISH_REASON_NAMES[answer.finish_reason] == ("tool_calls" if required else "stop")


SEARCH = {
    "type": "function",
    "function": {
        "name": "search",
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "maxLength": 12}},
            "required": ["query"],
            "additionalProperties": False,
        },
    },
}


@pytest.mark.parametrize("stream", [True, False])
async def test_compact_json_bounds_whitespace_in_a_forced_calls_arguments(engine: Any, stream: bool) -> None:
    # No logit bias here: the random model left alone pads a call's arguments with whitespace until max_tokens
    # (seen in CI), and vLLM's disable_any_whitespace does not reach tool-call grammars; compact_json must.
    req = chat(
        "What is the weather in Paris?",
        tools=[SEARCH],
        tool_choice={"function_name": "search"},
        sampling={"max_tokens": 60, "temperature": 0.0},
    )
    answer = join_steps([d async for d in engine.generate(req)]) if stream else (await engine.generate_whole(req))[0]
    (call,) = answer.tool_calls
    arguments = json.loads(call.function.arguments)
    assert list(arguments) == ["query"] and len(arguments["query"]) <= 12
    assert FINISH_REASON_NAMES[answer.finish_reason] == "stop"
