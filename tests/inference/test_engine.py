"""The real vLLM engine on a tiny random-weight Qwen3: streaming, usage, stops, lengths, structured output."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jan.v1 import inference_service_pb2 as pb
from services.common.generation import FINISH_REASON_NAMES, join_steps
from tests.inference.conftest import MAX_MODEL_LEN, SERVED_NAME, chat

pytestmark = pytest.mark.engine


async def _stream(engine: Any, req: Any) -> list:
    return [d async for d in engine.generate(req)]


def test_models(engine: Any) -> None:
    (info,) = engine.models()
    assert info.id == SERVED_NAME
    assert info.max_model_len == MAX_MODEL_LEN
    assert info.created > 0
    assert engine.is_healthy() and engine.dead_error is None


async def test_stream_joins_to_whole_answer_with_true_usage(engine: Any, hf_tokenizer: Any) -> None:
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Count to three."},
    ]
    req = chat(messages=messages, sampling={"max_tokens": 12, "temperature": 0.0})
    deltas = await _stream(engine, req)
    assert all(not d.finish_reason and not d.HasField("usage") for d in deltas[:-1])
    streamed = join_steps(deltas)
    (whole,) = await engine.generate_whole(req)
    assert streamed.content and streamed.content == whole.content  # greedy: same tokens both ways
    assert streamed.finish_reason == whole.finish_reason == pb.FINISH_REASON_LENGTH

    templated = hf_tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True, enable_thinking=False
    )
    prompt_tokens = len(hf_tokenizer.encode(templated, add_special_tokens=False))
    for answer in (streamed, whole):
        assert answer.HasField("usage")
        usage = answer.usage
        assert usage.prompt_tokens == prompt_tokens
        assert usage.completion_tokens == 12
        assert usage.total_tokens == prompt_tokens + 12
        assert usage.completion_tokens_details.reasoning_tokens == 0
    assert len(hf_tokenizer.encode(whole.content, add_special_tokens=False)) <= 12


async def test_stop_sequence_ends_the_answer(engine: Any) -> None:
    forced = {"regex": "hello world STOP and more words"}
    req = chat(structured_outputs=forced, sampling={"max_tokens": 30, "temperature": 0.0, "stop": ["STOP"]})
    streamed = join_steps(await _stream(engine, req))
    (whole,) = await engine.generate_whole(req)
    for answer in (streamed, whole):
        assert answer.content == "hello world "
        assert FINISH_REASON_NAMES[answer.finish_reason] == "stop"


async def test_max_tokens_gives_length(engine: Any) -> None:
    req = chat(sampling={"max_tokens": 3, "temperature": 0.0, "ignore_eos": True})
    deltas = await _stream(engine, req)
    assert FINISH_REASON_NAMES[deltas[-1].finish_reason] == "length"
    assert deltas[-1].HasField("usage") and deltas[-1].usage.completion_tokens == 3


async def test_default_max_tokens_bounds_an_answer_without_max_tokens(engine: Any) -> None:
    """The chat service's per-caller bound: each answer stops there, and yields to the context when the context
    has less room (unlike max_tokens, which must fit)."""
    req = chat(sampling={"temperature": 0.0, "ignore_eos": True}, default_max_tokens=4)
    deltas = await _stream(engine, req)
    assert FINISH_REASON_NAMES[deltas[-1].finish_reason] == "length"
    assert deltas[-1].usage.completion_tokens == 4
    roomy = chat(sampling={"temperature": 0.0, "max_tokens": 2, "ignore_eos": True}, default_max_tokens=4)
    assert (await engine.generate_whole(roomy))[0].usage.completion_tokens == 2  # max_tokens, when given, rules
    bigger_than_the_context = chat(sampling={"temperature": 0.0}, default_max_tokens=100_000)
    assert (await engine.generate_whole(bigger_than_the_context))[0].usage.completion_tokens > 0


async def test_json_schema_response_format(engine: Any) -> None:
    schema = {
        "type": "object",
        "properties": {"mood": {"enum": ["happy", "sad"]}},
        "required": ["mood"],
        "additionalProperties": False,
    }
    rf = {"type": "json_schema", "json_schema": {"name": "mood", "schema": schema}}
    req = chat(response_format=rf, sampling={"max_tokens": 40, "temperature": 0.0})
    (whole,) = await engine.generate_whole(req)
    assert FINISH_REASON_NAMES[whole.finish_reason] == "stop", whole
    assert json.loads(whole.content)["mood"] in ("happy", "sad")


async def test_logprobs_per_token(engine: Any) -> None:
    req = chat(sampling={"max_tokens": 4, "temperature": 0.0, "logprobs": True, "top_logprobs": 2})
    deltas = await _stream(engine, req)
    logprobs = [lp for d in deltas for lp in d.logprobs]
    assert len(logprobs) == 4
    for lp in logprobs:
        assert lp.logprob <= 0.0
        assert len(lp.top_logprobs) == 2
        assert lp.top_logprobs[0].logprob >= lp.top_logprobs[1].logprob
        assert lp.top_logprobs[0].token == lp.token  # greedy picks the top token


async def test_a_stream_interval_sends_tokens_in_groups(engine: Any) -> None:
    """With JAN_STREAM_INTERVAL_TOKENS (vLLM's stream_interval), a stream's first token goes out alone and at
    once, later messages carry the tokens generated meanwhile, at least that many but for the last: fewer
    messages, the same text, tokens and usage."""
    import dataclasses

    req = chat(sampling={"max_tokens": 30, "temperature": 0.0, "ignore_eos": True})
    every_token = await _stream(engine, req)
    plain = engine.config
    engine.config = dataclasses.replace(plain, stream_interval_tokens=8)
    try:
        grouped = await _stream(engine, req)
    finally:
        engine.config = plain
    assert [m.completion_tokens for m in every_token] == [1] * 30
    counts = [m.completion_tokens for m in grouped]
    assert counts[0] == 1 and sum(counts) == 30
    assert all(c >= 8 for c in counts[1:-1]) and len(grouped) <= 5
    assert join_steps(grouped).content == join_steps(every_token).content
    assert grouped[-1].usage == every_token[-1].usage
