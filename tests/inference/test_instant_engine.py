from __future__ import annotations

import logging

import pytest

from services.common.errors import NotFound
from services.inference.domain import GenerationRequest, SamplingOptions, join_deltas
from services.inference.instant_engine import InstantEngine, InstantEngineConfig


def _req(model: str = "instant", max_tokens: int | None = None) -> GenerationRequest:
    return GenerationRequest(
        request_id="r",
        model=model,
        messages=[{"role": "user", "content": "twelve chars"}],
        sampling=SamplingOptions(max_tokens=max_tokens),
    )


async def test_streams_canned_tokens_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    eng = InstantEngine(InstantEngineConfig(tokens=5))
    with caplog.at_level(logging.WARNING):
        await eng.start()
    assert "NOT a real model" in caplog.text
    deltas = [d async for d in eng.generate(_req())]
    assert len(deltas) == 5
    whole = join_deltas(deltas)
    assert [whole] == await eng.generate_whole(_req())
    assert whole.finish_reason == "stop"
    assert whole.usage is not None and whole.usage.completion_tokens == 5 and whole.usage.prompt_tokens == 3
    assert eng.num_running_requests() == 0
    assert (await eng.generate_whole(_req(max_tokens=2)))[0].finish_reason == "length"
    with pytest.raises(NotFound):
        await eng.generate_whole(_req(model="nope"))
    await eng.shutdown()
    assert not eng.is_healthy()
