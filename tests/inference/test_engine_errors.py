"""Bad requests fail with the right error and param; a consumer that goes away aborts the engine request."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from services.common.errors import InvalidArgument, NotFound
from services.common.generation import FINISH_REASON_NAMES, join_steps
from tests.inference.conftest import MAX_MODEL_LEN, chat

pytestmark = pytest.mark.engine

LONG = {"max_tokens": 900, "temperature": 0.0, "ignore_eos": True}


async def _soon(cond: Callable[[], bool]) -> None:
    """Wait up to a second for cond(): an abort is immediate, a finished 900-token answer takes ~10 s."""
    async with asyncio.timeout(1.0):
        while not cond():  # noqa: ASYNC110 - the engine offers no event to await
            await asyncio.sleep(0.01)


async def _error(engine: Any, req: Any, stream: bool) -> Exception:
    with pytest.raises((InvalidArgument, NotFound)) as e:
        if stream:
            [d async for d in engine.generate(req)]
        else:
            await engine.generate_whole(req)
    return e.value


@pytest.mark.parametrize("stream", [True, False])
async def test_unknown_model_is_not_found(engine: Any, stream: bool) -> None:
    err = await _error(engine, chat(model="gpt-9"), stream)
    assert isinstance(err, NotFound)
    assert (err.param, err.code) == ("model", "model_not_found")


async def test_prompt_longer_than_context(engine: Any) -> None:
    err = await _error(engine, chat("word " * (MAX_MODEL_LEN + 50)), stream=True)
    assert isinstance(err, InvalidArgument) and err.param == "messages"
    assert str(MAX_MODEL_LEN) in err.message


async def test_max_tokens_that_cannot_fit(engine: Any) -> None:
    err = await _error(engine, chat(sampling={"max_tokens": MAX_MODEL_LEN}), stream=False)
    assert isinstance(err, InvalidArgument) and err.param == "max_tokens"
    assert str(MAX_MODEL_LEN) in err.message


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"sampling": {"temperature": -1.0}}, "temperature"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
        (
            {
                "tools": [
                    {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "required": 3}}}
                ]
            },
            "tools[0].function.parameters",
        ),
        ({"sampling": {"logit_bias": {10**7: 1.0}}}, "logit_bias"),
    ],
)
async def test_bad_fields_are_named(engine: Any, kwargs: dict, param: str) -> None:
    err = await _error(engine, chat(**kwargs), stream=True)
    assert isinstance(err, InvalidArgument) and err.param == param


@pytest.mark.parametrize("stream", [True, False])
async def test_a_model_without_a_tool_parser_refuses_tools(
    engine: Any, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    # The session engine as if served with JAN_TOOL_CALL_PARSER=none (the check reads the config per request).
    monkeypatch.setattr(engine, "config", dataclasses.replace(engine.config, tool_call_parser=None))
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    for choice in (None, {"mode": "auto"}, {"mode": "required"}, {"function_name": "f"}):
        fields = {"tool_choice": choice} if choice else {}
        err = await _error(engine, chat(tools=tools, **fields), stream)
        assert isinstance(err, InvalidArgument) and err.param == "tools", choice
    # tool_choice "none" asks for no tool calls, so the tools are harmless.
    req = chat(tools=tools, tool_choice={"mode": "none"}, sampling={"max_tokens": 2, "temperature": 0.0})
    answer = join_steps([d async for d in engine.generate(req)]) if stream else (await engine.generate_whole(req))[0]
    assert FINISH_REASON_NAMES[answer.finish_reason] in ("stop", "length") and not answer.tool_calls


async def test_unparsable_regex_is_invalid_argument(engine: Any) -> None:
    err = await _error(engine, chat(structured_outputs={"regex": "(unclosed"}), stream=True)
    assert isinstance(err, InvalidArgument)
    assert engine.is_healthy()


async def test_cancelling_the_consumer_aborts_the_engine_request(engine: Any) -> None:
    # ~900 tokens would take seconds; only an abort frees the engine this fast.
    req = chat(sampling=LONG)
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in engine.generate(req):
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 10)
    assert engine.num_running_requests() == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _soon(lambda: engine.num_running_requests() == 0)


async def test_closing_the_stream_aborts_the_engine_request(engine: Any) -> None:
    req = chat(sampling=LONG)
    stream = engine.generate(req)
    await anext(stream)
    assert engine.num_running_requests() == 1
    await stream.aclose()
    await _soon(lambda: engine.num_running_requests() == 0)
    # The engine still serves afterwards.
    assert FINISH_REASON_NAMES[(await engine.generate_whole(chat()))[0].finish_reason] in ("stop", "length")


async def test_cancelling_a_whole_request_aborts_it(engine: Any) -> None:
    req = chat(sampling=LONG)
    task = asyncio.create_task(engine.generate_whole(req))
    await _soon(lambda: engine.num_running_requests() == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _soon(lambda: engine.num_running_requests() == 0)
