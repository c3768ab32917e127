from __future__ import annotations

import logging

import pytest

from jan.v1 import inference_service_pb2 as pb
from services.common.errors import NotFound
from services.common.generation import FINISH_REASON_NAMES, join_steps
from services.inference.instant_engine import InstantEngine, InstantEngineConfig


def _req(model: str = "instant", max_tokens: int | None = None) -> pb.GenerateRequest:
    req = pb.GenerateRequest(request_id="r", model=model, sampling=pb.SamplingParams(max_tokens=max_tokens))
    req.messages.add(role="user").content.string_value = "twelve chars"
    return req


async def test_streams_canned_tokens_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    eng = InstantEngine(InstantEngineConfig(tokens=5))
    with caplog.at_level(logging.WARNING):
        await eng.start()
    assert "NOT a real model" in caplog.text
    deltas = [d async for d in eng.generate(_req())]
    assert len(deltas) == 5
    whole = join_steps(deltas)
    whole.decode_seconds = 0.0  # a whole answer says how long decoding took: no time at all
    assert [whole] == await eng.generate_whole(_req())
    assert FINISH_REASON_NAMES[whole.finish_reason] == "stop"
    assert whole.HasField("usage") and whole.usage.completion_tokens == 5 and whole.usage.prompt_tokens == 3
    assert eng.num_running_requests() == 0
    assert FINISH_REASON_NAMES[(await eng.generate_whole(_req(max_tokens=2)))[0].finish_reason] == "length"
    bounded = _req()
    bounded.default_max_tokens = 3  # the caller's bound when max_tokens is unset (the chat service's)
    (answer,) = await eng.generate_whole(bounded)
    assert answer.usage.completion_tokens == 3 and FINISH_REASON_NAMES[answer.finish_reason] == "length"
    with pytest.raises(NotFound):
        await eng.generate_whole(_req(model="nope"))
    await eng.shutdown()
    assert not eng.is_healthy()
