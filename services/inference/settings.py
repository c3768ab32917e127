"""The inference service's settings, read once from the environment."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import METRICS_LISTEN, ServerSettings
from services.inference.engine_config import EngineConfig


class InferenceSettings(ServerSettings):
    listen_address: str = Field("127.0.0.1:50053", validation_alias="JAN_INFERENCE_LISTEN")
    # Prometheus metrics over HTTP (services/common/metrics.py; with vLLM's), on a port of their own; empty: off.
    metrics_listen_address: str = Field("", validation_alias="JAN_INFERENCE_METRICS_LISTEN", pattern=METRICS_LISTEN)
    # "vllm", or "instant": a canned-answer engine for overhead benchmarks only (never a default).
    engine: str = Field("vllm", validation_alias="JAN_ENGINE", pattern="^(vllm|instant)$")
    # Defaults match the system we replace on GPU: Jan-v1-4B served as jan-v1-4b.
    model: str = Field("janhq/Jan-v1-4B", validation_alias="JAN_MODEL")
    served_model_name: str = Field("jan-v1-4b", validation_alias="JAN_SERVED_MODEL_NAME")
    dtype: str = Field("auto", validation_alias="JAN_DTYPE")
    max_model_len: int | None = Field(None, validation_alias="JAN_MAX_MODEL_LEN", gt=0)
    kv_cache_memory_bytes: int | None = Field(None, validation_alias="JAN_KV_CACHE_BYTES", gt=0)
    gpu_memory_utilization: float | None = Field(None, validation_alias="JAN_GPU_MEMORY_UTILIZATION", gt=0, le=1)
    tool_call_parser: str = Field("hermes", validation_alias="JAN_TOOL_CALL_PARSER")  # "none" disables
    reasoning_parser: str = Field("qwen3", validation_alias="JAN_REASONING_PARSER")  # "none" disables
    chat_template: str | None = Field(None, validation_alias="JAN_CHAT_TEMPLATE")
    enforce_eager: bool = Field(False, validation_alias="JAN_ENFORCE_EAGER")
    max_num_seqs: int | None = Field(None, validation_alias="JAN_MAX_NUM_SEQS", gt=0)
    # The model in the engine-core process, not a worker of its own: starts faster and uses ~0.5 GB less,
    # but measured ~3x slower on SmolLM2 here; tests use it, serving does not.
    single_process: bool = Field(False, validation_alias="JAN_ENGINE_SINGLE_PROCESS")
    structured_outputs_in_reasoning: bool = Field(False, validation_alias="JAN_STRUCTURED_OUTPUTS_IN_REASONING")
    compact_json: bool = Field(False, validation_alias="JAN_COMPACT_JSON")
    inline_render_max_chars: int = Field(4096, validation_alias="JAN_INLINE_RENDER_MAX_CHARS", ge=0)
    stream_interval_tokens: int = Field(4, validation_alias="JAN_STREAM_INTERVAL_TOKENS", ge=1, le=256)
    instant_tokens: int = Field(16, validation_alias="JAN_INSTANT_TOKENS", ge=1)
    # The instant engine's pause between streamed tokens (0: none); fault tests use it to have a stream to break.
    instant_token_seconds: float = Field(0.0, validation_alias="JAN_INSTANT_TOKEN_SECONDS", ge=0)
    health_poll_seconds: float = Field(1.0, validation_alias="JAN_ENGINE_HEALTH_POLL_SECONDS", gt=0)

    def engine_config(self) -> EngineConfig:
        return EngineConfig(
            model=self.model,
            served_model_name=self.served_model_name,
            dtype=self.dtype,
            max_model_len=self.max_model_len,
            kv_cache_memory_bytes=self.kv_cache_memory_bytes,
            gpu_memory_utilization=self.gpu_memory_utilization,
            tool_call_parser=None if self.tool_call_parser == "none" else self.tool_call_parser,
            reasoning_parser=None if self.reasoning_parser == "none" else self.reasoning_parser,
            chat_template=self.chat_template,
            enforce_eager=self.enforce_eager,
            max_num_seqs=self.max_num_seqs,
            single_process=self.single_process,
            structured_outputs_in_reasoning=self.structured_outputs_in_reasoning,
            compact_json=self.compact_json,
            inline_render_max_chars=self.inline_render_max_chars,
            stream_interval_tokens=self.stream_interval_tokens,
            log_stats=bool(self.metrics_listen_address),
        )
