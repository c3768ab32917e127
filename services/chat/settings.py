"""The chat service's settings, read once from the environment."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import DatabaseSettings, ServerSettings


class ChatSettings(ServerSettings):
    listen_address: str = Field("127.0.0.1:50052", validation_alias="JAN_CHAT_LISTEN")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    inference_target: str = Field("127.0.0.1:50053", validation_alias="JAN_INFERENCE_TARGET")
