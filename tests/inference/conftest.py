"""One tiny-Qwen3 vLLM engine for the whole test session (starting one costs ~25 s on 2 cores)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from google.protobuf import json_format

from jan.v1 import inference_service_pb2 as pb
from services.inference.engine_config import EngineConfig
from tests.auth.conftest import owner, rest  # noqa: F401 - fixtures, found by name (an admin key for Envoy)

SERVED_NAME = "qwen3-tiny"
MAX_MODEL_LEN = 1024


def tiny_engine_config(model_dir: Path) -> EngineConfig:
    return EngineConfig(
        model=str(model_dir),
        served_model_name=SERVED_NAME,
        dtype="float32",
        max_model_len=MAX_MODEL_LEN,
        kv_cache_memory_bytes=32 * 2**20,
        enforce_eager=True,  # no torch.compile: start-up stays ~25 s
        max_num_seqs=4,
        # No separate worker process: starts ~15 s sooner and saves ~0.5 GB; the tiny model does not
        # need the worker's core binding that real models do.
        single_process=True,
        structured_outputs_in_reasoning=True,  # lets tests force whole <think> blocks with a regex
        compact_json=True,  # the random model would pad JSON with whitespace forever
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def engine(tiny_model_dir: Path) -> AsyncIterator[object]:
    from services.inference.engine import InferenceEngine

    eng = InferenceEngine(tiny_engine_config(tiny_model_dir))
    await eng.start()
    yield eng
    await eng.shutdown()


@pytest.fixture(scope="session")
def hf_tokenizer(tiny_model_dir: Path) -> object:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model_dir))


def chat(
    content: str = "Hello",
    *,
    messages: list[dict[str, Any]] | None = None,
    sampling: dict[str, Any] | pb.SamplingParams | None = None,
    **fields: Any,
) -> pb.GenerateRequest:
    """A GenerateRequest for the session engine, from OpenAI-like JSON (`fields` in the proto's JSON shape,
    e.g. tool_choice={"mode": "auto"}); greedy, 8 tokens and thinking off unless asked, so text lands in
    content. `sampling` may also be a SamplingParams, for values JSON cannot spell (NaN)."""
    data: dict[str, Any] = {
        "model": SERVED_NAME,
        "request_id": "test",
        "messages": messages or [{"role": "user", "content": content}],
        "chat_template_kwargs": {"enable_thinking": False},
        **fields,
    }
    request = json_format.ParseDict(data, pb.GenerateRequest())
    if isinstance(sampling, pb.SamplingParams):
        request.sampling.CopyFrom(sampling)
    else:
        json_format.ParseDict(sampling or {"max_tokens": 8, "temperature": 0.0}, request.sampling)
    return request


@pytest.fixture
def make_request() -> object:
    return chat
