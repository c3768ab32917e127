"""How to build the inference engine; no vLLM import, so settings can build one cheaply."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EngineConfig:
    model: str  # a local folder (no hub downloads here) or a hub id where the network allows
    served_model_name: str | None = None  # defaults to `model`
    dtype: str = "auto"  # float32 on AVX2 CPUs: bf16 falls back to slow kernels there
    max_model_len: int | None = None
    kv_cache_memory_bytes: int | None = None  # CPU: set it, or vLLM sizes from the whole NUMA node
    gpu_memory_utilization: float | None = None
    tool_call_parser: str | None = "hermes"
    reasoning_parser: str | None = "qwen3"
    chat_template: str | None = None  # path to a Jinja file overriding the tokenizer's template
    default_chat_template_kwargs: dict[str, Any] = field(default_factory=dict)
    enforce_eager: bool = False
    max_num_seqs: int | None = None
    seed: int = 0
    # Apply structured-output grammars inside <think> too (vLLM's `enable_in_reasoning`). Off in production,
    # so a reasoning model thinks freely; tests turn it on to force whole <think>…</think> blocks.
    structured_outputs_in_reasoning: bool = False
    # JSON grammars without optional whitespace (vLLM's disable_any_whitespace; xgrammar reads it only
    # engine-wide), tool-call arguments included (vllm_adapter.compact_tool_calls). Small models otherwise
    # tend to pad JSON with whitespace until max_tokens.
    compact_json: bool = False
    # True sets VLLM_ENABLE_V1_MULTIPROCESSING=0: the model runs inside the engine-core process instead of
    # its own worker process. Saves ~0.5 GB RSS, but on CPU it loses vLLM's OpenMP core binding: SmolLM2
    # measured 2.6 tok/s that way against 8.5 tok/s with the worker process (2 cores).
    single_process: bool = False
    # Requests with up to this many characters of message text and tools render on the event loop instead
    # of vLLM's renderer thread pool (services/inference/inline_render.py); 0 sends every request to the pool.
    inline_render_max_chars: int = 4096
    # A stream's messages carry at least this many tokens, except its first and last (vLLM's stream_interval,
    # set per request): a stream then costs the engine's frontend, the services, Envoy and the client one
    # message per this many tokens instead of one per token. 1 sends every token as it is generated.
    stream_interval_tokens: int = 1
    log_requests: bool = False
    # vLLM's stat logging, and with it its Prometheus metrics (on when the service's metrics are).
    log_stats: bool = False
    owned_by: str = "jan"
