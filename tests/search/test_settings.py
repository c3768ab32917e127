"""The search service's settings and the client configuration built from them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.search.server import serper_config
from services.search.settings import SearchSettings


def test_environment_reaches_the_client_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERPER_API_KEY", "  key-from-a-secret-file\n")
    monkeypatch.setenv("SERPER_SEARCH_URL", "http://127.0.0.1:1/search")
    monkeypatch.setenv("SERPER_SCRAPE_URL", "http://127.0.0.1:1/scrape")
    monkeypatch.setenv("JAN_SEARCH_TIMEOUT_SECONDS", "2.5")
    monkeypatch.setenv("JAN_SEARCH_MAX_ATTEMPTS", "5")
    monkeypatch.setenv("JAN_SEARCH_CACHE_TTL_SECONDS", "0")
    monkeypatch.setenv("JAN_SEARCH_CACHE_MAX_ENTRIES", "7")
    settings = SearchSettings()
    assert "key-from-a-secret-file" not in repr(settings) and "key-from-a-secret-file" not in str(settings)
    config = serper_config(settings)
    assert config.api_key == "key-from-a-secret-file"
    assert (config.search_url, config.scrape_url) == ("http://127.0.0.1:1/search", "http://127.0.0.1:1/scrape")
    assert (config.timeout_seconds, config.max_attempts) == (2.5, 5)
    assert (config.cache_ttl_seconds, config.cache_max_entries) == (0, 7)
    assert "key-from-a-secret-file" not in repr(config)


def test_defaults_point_at_serper(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SERPER_API_KEY", "SERPER_SEARCH_URL", "SERPER_SCRAPE_URL"):
        monkeypatch.delenv(name, raising=False)
    config = serper_config(SearchSettings())
    assert config.api_key == ""
    assert (config.search_url, config.scrape_url) == ("https://google.serper.dev/search", "https://scrape.serper.dev")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SERPER_SEARCH_URL", "google.serper.dev/search"),
        ("JAN_SEARCH_MAX_ATTEMPTS", "0"),
        ("JAN_SEARCH_TIMEOUT_SECONDS", "0"),
        ("JAN_SEARCH_CACHE_MAX_ENTRIES", "-1"),
    ],
)
def test_bad_values_fail_the_start(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        SearchSettings()
