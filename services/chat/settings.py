"""The chat service's settings, read once from the environment."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import DatabaseSettings, IdentitySettings, ServerSettings


class ChatSettings(ServerSettings, IdentitySettings):
    # Errors name the variable but never echo its value (JAN_IDENTITY_SECRET is a secret).
    model_config = SettingsConfigDict(**ServerSettings.model_config, hide_input_in_errors=True)

    listen_address: str = Field("127.0.0.1:50052", validation_alias="JAN_CHAT_LISTEN")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    inference_target: str = Field("127.0.0.1:50053", validation_alias="JAN_INFERENCE_TARGET")
    search_target: str = Field("127.0.0.1:50054", validation_alias="JAN_SEARCH_TARGET")
    # The MCP endpoint (HTTP, for Envoy's /v1/mcp route).
    mcp_listen_address: str = Field("127.0.0.1:50062", validation_alias="JAN_CHAT_MCP_LISTEN")
    # Searching steps a tool-calling model may take for one answer (web_search_options) before it must answer.
    web_search_max_steps: int = Field(3, validation_alias="JAN_WEB_SEARCH_MAX_STEPS", ge=1, le=10)
