"""Small requests render on the event loop, large ones in vLLM's renderer pool, and the choice stays per task."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from services.common.generation import FINISH_REASON_NAMES
from services.inference.inline_render import (
    inline_rendering,
    install,
    request_chars,
    run_small_inline,
)
from tests.inference.conftest import chat


@pytest.fixture
def pool() -> Any:
    executor = ThreadPoolExecutor(max_workers=1)
    run_small_inline(executor)
    yield executor
    executor.shutdown()


def _thread() -> int:
    return threading.get_ident()


def test_jobs_run_in_the_caller_only_when_asked(pool: ThreadPoolExecutor) -> None:
    here = threading.get_ident()
    assert pool.submit(_thread).result() != here
    with inline_rendering(False):
        assert pool.submit(_thread).result() != here
    with inline_rendering(True):
        done = pool.submit(_thread)
        assert done.done() and done.result() == here
    assert pool.submit(_thread).result() != here  # reset on leaving the block


def test_an_inline_job_raises_through_its_future(pool: ThreadPoolExecutor) -> None:
    with inline_rendering(True):
        failed = pool.submit(int, "not a number")
    with pytest.raises(ValueError, match="not a number"):
        failed.result()


def test_setting_up_twice_wraps_once(pool: ThreadPoolExecutor) -> None:
    submit = pool.submit
    run_small_inline(pool)
    assert pool.submit is submit


async def test_the_choice_belongs_to_the_task_that_made_it(pool: ThreadPoolExecutor) -> None:
    loop = asyncio.get_running_loop()
    here = threading.get_ident()
    inside = asyncio.Event()

    async def small() -> list[int]:
        with inline_rendering(True):
            first = await loop.run_in_executor(pool, _thread)
            inside.set()
            await asyncio.sleep(0.05)  # the other task submits while this one is inside its block
            return [first, await loop.run_in_executor(pool, _thread)]

    async def large() -> int:
        await inside.wait()
        return await loop.run_in_executor(pool, _thread)

    small_threads, large_thread = await asyncio.gather(small(), large())
    assert small_threads == [here, here]
    assert large_thread != here


def test_request_chars_counts_message_text_tool_calls_and_tools() -> None:
    short = [{"role": "user", "content": "abc"}]
    base = request_chars(chat(messages=short))
    assert base < 100
    parts = [{"role": "user", "content": [{"type": "text", "text": "x" * 1000}]}]
    assert request_chars(chat(messages=parts)) > 1000
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "y" * 1000}}
    tool_turn = {"role": "assistant", "content": None, "tool_calls": [call]}
    assert request_chars(chat(messages=[*short, tool_turn])) > base + 1000
    tools = [{"type": "function", "function": {"name": "f", "description": "d" * 1000}}]
    assert request_chars(chat(messages=short, tools=tools)) > base + 1000
    # Only what the template and the tokenizer see: not the sampling fields or other request fields.
    assert request_chars(chat(messages=short, sampling={"stop": ["z" * 1000]}, request_id="r" * 1000)) == base


def test_a_renderer_without_an_executor_is_left_alone() -> None:
    assert install(object()) is False


class _CountingPool(ThreadPoolExecutor):
    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.jobs = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        self.jobs += 1
        return super().submit(fn, *args, **kwargs)


@pytest.fixture
def vllm_pool(engine: Any) -> Any:
    """Counts the jobs that reach vLLM's renderer pool (the inner pool of its executor object)."""
    swappable = engine._llm.renderer._executor
    original, counting = swappable._inner, _CountingPool()
    swappable._inner = counting
    yield counting
    swappable._inner = original
    counting.shutdown()


SAMPLING = {"max_tokens": 2, "temperature": 0.0}


@pytest.mark.engine
async def test_the_engine_renders_small_requests_inline_and_large_ones_in_vllms_pool(
    engine: Any, vllm_pool: _CountingPool
) -> None:
    (small,) = await engine.generate_whole(chat("Hello there", sampling=SAMPLING))
    assert vllm_pool.jobs == 0
    large_text = " " * (engine.config.inline_render_max_chars + 100)  # many characters, few tokens
    (large,) = await engine.generate_whole(chat(large_text + "Hello", sampling=SAMPLING))
    assert vllm_pool.jobs >= 1  # the template and the tokenizer went to the pool
    assert FINISH_REASON_NAMES[small.finish_reason] == FINISH_REASON_NAMES[large.finish_reason] == "length"
    assert small.HasField("usage") and large.HasField("usage")
    assert large.usage.prompt_tokens > small.usage.prompt_tokens


@pytest.mark.engine
async def test_a_limit_of_zero_sends_every_request_to_vllms_pool(
    engine: Any, vllm_pool: _CountingPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "config", dataclasses.replace(engine.config, inline_render_max_chars=0))
    (answer,) = await engine.generate_whole(chat("Hello there", sampling=SAMPLING))
    assert vllm_pool.jobs >= 1
    assert FINISH_REASON_NAMES[answer.finish_reason] == "length"


def test_the_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.inference.settings import InferenceSettings

    assert InferenceSettings().engine_config().inline_render_max_chars == 4096
    monkeypatch.setenv("JAN_INLINE_RENDER_MAX_CHARS", "0")
    assert InferenceSettings().engine_config().inline_render_max_chars == 0
    monkeypatch.setenv("JAN_INLINE_RENDER_MAX_CHARS", "-1")
    with pytest.raises(ValueError, match="JAN_INLINE_RENDER_MAX_CHARS"):
        InferenceSettings()
