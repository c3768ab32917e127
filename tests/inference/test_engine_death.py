"""If the engine core dies, requests fail fast with Unavailable and health reports it.

This kills the session's engine, so it is marked to run after every other test (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import psutil
import pytest

from services.common.errors import Unavailable
from tests.inference.conftest import chat


def _engine_core_pids() -> list[int]:
    # Direct children only: the whole-stack fixture runs its own inference service (and engine core).
    return [p.pid for p in psutil.Process().children(recursive=False) if p.name() == "VLLM::EngineCore"]


@pytest.mark.engine
@pytest.mark.disrupts_stack
async def test_engine_death_gives_unavailable_not_a_hang(engine: Any) -> None:
    (core,) = _engine_core_pids()
    long = chat(sampling={"max_tokens": 900, "temperature": 0.0, "ignore_eos": True})
    stream = engine.generate(long)
    await anext(stream)

    os.kill(core, signal.SIGKILL)
    with pytest.raises(Unavailable):
        async with asyncio.timeout(30):
            async for _ in stream:
                pass
    assert not engine.is_healthy()
    assert engine.dead_error is not None
    with pytest.raises(Unavailable):
        await asyncio.wait_for(engine.generate_whole(chat()), 5)
    with pytest.raises(Unavailable):
        await asyncio.wait_for(anext(engine.generate(chat())), 5)
