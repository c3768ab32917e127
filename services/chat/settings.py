"""The chat service's settings, read once from the environment."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import DatabaseSettings, ServerSettings


class ChatSettings(ServerSettings):
    listen_address: str = Field("127.0.0.1:50052", validation_alias="JAN_CHAT_LISTEN")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    inference_target: str = Field("127.0.0.1:50053", validation_alias="JAN_INFERENCE_TARGET")
    search_target: str = Field("127.0.0.1:50054", validation_alias="JAN_SEARCH_TARGET")
    # The MCP endpoint (HTTP, for Envoy's /v1/mcp route).
    mcp_listen_address: str = Field("127.0.0.1:50062", validation_alias="JAN_CHAT_MCP_LISTEN")
    # Searching steps a tool-calling model may take for one answer (web_search_options) before it must answer.
    web_search_max_steps: int = Field(3, validation_alias="JAN_WEB_SEARCH_MAX_STEPS", ge=1, le=10)
    # Background responses this replica generates at once (any replica takes queued ones).
    background_concurrency: int = Field(8, validation_alias="JAN_RESPONSES_BACKGROUND_CONCURRENCY", ge=1, le=256)
    # A background response whose replica showed no life for this long is failed (its heartbeat is every 0.5 s).
    background_stale_seconds: float = Field(15.0, validation_alias="JAN_RESPONSES_STALE_SECONDS", ge=2, le=3600)
