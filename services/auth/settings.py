"""The auth service's settings, read once from the environment."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import DatabaseSettings, ServerSettings


class AuthSettings(ServerSettings):
    listen_address: str = Field("127.0.0.1:50051", validation_alias="JAN_AUTH_LISTEN")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
