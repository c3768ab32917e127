"""The search service's settings, read once from the environment."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import ServerSettings


class SearchSettings(ServerSettings):
    listen_address: str = Field("127.0.0.1:50054", validation_alias="JAN_SEARCH_LISTEN")
    serper_api_key: str = Field("", validation_alias="SERPER_API_KEY", repr=False)
    serper_search_url: str = Field("https://google.serper.dev/search", validation_alias="SERPER_SEARCH_URL")
    serper_scrape_url: str = Field("https://scrape.serper.dev", validation_alias="SERPER_SCRAPE_URL")
    timeout_seconds: float = Field(10.0, validation_alias="JAN_SEARCH_TIMEOUT_SECONDS", gt=0)
    max_attempts: int = Field(3, validation_alias="JAN_SEARCH_MAX_ATTEMPTS", ge=1)
    cache_ttl_seconds: float = Field(300.0, validation_alias="JAN_SEARCH_CACHE_TTL_SECONDS", ge=0)
    cache_max_entries: int = Field(1024, validation_alias="JAN_SEARCH_CACHE_MAX_ENTRIES", ge=0)
