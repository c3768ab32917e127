"""The search service's settings, read once from the environment."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from services.common.settings import METRICS_LISTEN, ServerSettings


class SearchSettings(ServerSettings):
    listen_address: str = Field("127.0.0.1:50054", validation_alias="JAN_SEARCH_LISTEN")
    # Prometheus metrics over HTTP (services/common/metrics.py), on a port of their own; empty: off.
    metrics_listen_address: str = Field("", validation_alias="JAN_SEARCH_METRICS_LISTEN", pattern=METRICS_LISTEN)
    # Empty is allowed: the service still starts and Search/Scrape answer FAILED_PRECONDITION.
    serper_api_key: SecretStr = Field(SecretStr(""), validation_alias="SERPER_API_KEY")
    serper_search_url: str = Field(
        "https://google.serper.dev/search", validation_alias="SERPER_SEARCH_URL", pattern=r"^https?://\S+$"
    )
    serper_scrape_url: str = Field(
        "https://scrape.serper.dev", validation_alias="SERPER_SCRAPE_URL", pattern=r"^https?://\S+$"
    )
    timeout_seconds: float = Field(10.0, validation_alias="JAN_SEARCH_TIMEOUT_SECONDS", gt=0)
    max_attempts: int = Field(3, validation_alias="JAN_SEARCH_MAX_ATTEMPTS", ge=1, le=10)
    cache_ttl_seconds: float = Field(300.0, validation_alias="JAN_SEARCH_CACHE_TTL_SECONDS", ge=0)
    cache_max_entries: int = Field(1024, validation_alias="JAN_SEARCH_CACHE_MAX_ENTRIES", ge=0)
    # An approximate bound on the cache's memory (scraped pages can be large); 0 turns caching off.
    cache_max_bytes: int = Field(64 * 1024 * 1024, validation_alias="JAN_SEARCH_CACHE_MAX_BYTES", ge=0)
    max_connections: int = Field(100, validation_alias="JAN_SEARCH_MAX_CONNECTIONS", ge=1)

    @field_validator("serper_api_key", mode="before")
    @classmethod
    def _strip_key(cls, value: object) -> object:
        # A key read from a secret file often ends in a newline.
        return value.strip() if isinstance(value, str) else value
