"""The inference service's settings, read once from the environment."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import ServerSettings


class InferenceSettings(ServerSettings):
    listen_address: str = Field("127.0.0.1:50053", validation_alias="JAN_INFERENCE_LISTEN")
