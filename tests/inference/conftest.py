"""One tiny-Qwen3 vLLM engine for the whole test session (starting one costs ~25 s on 2 cores)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from services.inference.engine_config import EngineConfig

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


def chat(content: str = "Hello", **kwargs: object) -> object:
    """A GenerationRequest for the session engine; thinking off unless asked, so text lands in content."""
    from services.inference.domain import GenerationRequest, SamplingOptions

    sampling = kwargs.pop("sampling", None) or SamplingOptions(max_tokens=8, temperature=0.0)
    kwargs.setdefault("chat_template_kwargs", {"enable_thinking": False})
    return GenerationRequest(
        request_id=str(kwargs.pop("request_id", "test")),
        model=str(kwargs.pop("model", SERVED_NAME)),
        messages=kwargs.pop("messages", None) or [{"role": "user", "content": content}],
        sampling=sampling,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def make_request() -> object:
    return chat
