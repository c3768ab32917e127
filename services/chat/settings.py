"""The chat service's settings, read once from the environment."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.chat import web_search
from services.chat.limits import Limits
from services.common.settings import METRICS_LISTEN, DatabaseSettings, IdentitySettings, ServerSettings


class ChatSettings(ServerSettings, IdentitySettings):
    # Errors name the variable but never echo its value (JAN_IDENTITY_SECRET is a secret).
    model_config = SettingsConfigDict(**ServerSettings.model_config, hide_input_in_errors=True)

    listen_address: str = Field("127.0.0.1:50052", validation_alias="JAN_CHAT_LISTEN")
    # Prometheus metrics over HTTP (services/common/metrics.py), on a port of their own; empty: off.
    metrics_listen_address: str = Field("", validation_alias="JAN_CHAT_METRICS_LISTEN", pattern=METRICS_LISTEN)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    inference_target: str = Field("127.0.0.1:50053", validation_alias="JAN_INFERENCE_TARGET")
    search_target: str = Field("127.0.0.1:50054", validation_alias="JAN_SEARCH_TARGET")
    # The MCP endpoint (HTTP, for Envoy's /v1/mcp route).
    mcp_listen_address: str = Field("127.0.0.1:50062", validation_alias="JAN_CHAT_MCP_LISTEN")
    # Searching steps a tool-calling model may take for one answer (web_search_options) before it must answer.
    web_search_max_steps: int = Field(3, validation_alias="JAN_WEB_SEARCH_MAX_STEPS", ge=1, le=10)
    # The longest query the model may write (its tool's schema: vLLM's grammar holds it to it).
    web_search_max_query_chars: int = Field(
        web_search.MAX_QUERY_CHARS, validation_alias="JAN_WEB_SEARCH_MAX_QUERY_CHARS", ge=1, le=2048
    )
    # What one request and one conversation may take (services/chat/limits.py); guests (anyone can make one)
    # get less. 0 turns an output limit off; a guest limit of 0 gives guests everyone's.
    max_output_tokens_per_request: int = Field(32_768, validation_alias="JAN_MAX_OUTPUT_TOKENS_PER_REQUEST", ge=0)
    guest_max_output_tokens: int = Field(2_048, validation_alias="JAN_GUEST_MAX_OUTPUT_TOKENS", ge=0)
    max_item_bytes: int = Field(1_048_576, validation_alias="JAN_MAX_ITEM_BYTES", ge=1024)
    max_conversation_items: int = Field(10_000, validation_alias="JAN_MAX_CONVERSATION_ITEMS", ge=1)
    guest_max_conversation_items: int = Field(1_000, validation_alias="JAN_GUEST_MAX_CONVERSATION_ITEMS", ge=0)
    # The auth service: projects' rate limits and model and tool permissions (services/chat/controls.py).
    auth_target: str = Field("127.0.0.1:50051", validation_alias="JAN_AUTH_TARGET")
    # How often the projects' controls are refreshed from auth (a change reaches requests within this).
    project_controls_poll_seconds: float = Field(1.0, validation_alias="JAN_PROJECT_CONTROLS_POLL_SECONDS", gt=0, le=60)
    # How often rate limit counts are shared with the other replicas (rate_limits.py): a limit holds across
    # replicas to within what they admit in this time.
    rate_limit_sync_seconds: float = Field(0.25, validation_alias="JAN_RATE_LIMIT_SYNC_SECONDS", gt=0, le=10)
    # Metered usage is written in one statement this often (a replica that dies loses at most this much).
    usage_flush_seconds: float = Field(5.0, validation_alias="JAN_USAGE_FLUSH_SECONDS", gt=0, le=300)
    # Whether this replica runs background responses (any replica can queue them; false: API-only replicas).
    background_runner: bool = Field(True, validation_alias="JAN_RESPONSES_BACKGROUND_RUNNER")
    # Background responses this replica generates at once (any replica takes queued ones).
    background_concurrency: int = Field(8, validation_alias="JAN_RESPONSES_BACKGROUND_CONCURRENCY", ge=1, le=256)
    # A background response whose replica showed no life for this long is failed (its heartbeat is every 0.5 s).
    background_stale_seconds: float = Field(15.0, validation_alias="JAN_RESPONSES_STALE_SECONDS", ge=2, le=3600)

    def limits(self) -> Limits:
        return Limits(
            max_output_tokens=self.max_output_tokens_per_request,
            guest_max_output_tokens=self.guest_max_output_tokens,
            max_item_bytes=self.max_item_bytes,
            max_conversation_items=self.max_conversation_items,
            guest_max_conversation_items=self.guest_max_conversation_items,
        )
