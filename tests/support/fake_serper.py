"""A local stand-in for Serper (google.serper.dev/search and scrape.serper.dev) speaking its real wire
format, so the search service's production HTTP client is what the tests exercise.

Interface used by tests/conftest.py (the search work fills in the behaviour):
    server = FakeSerper(); server.start(); server.env() -> {"SERPER_API_KEY", "SERPER_SEARCH_URL",
    "SERPER_SCRAPE_URL"}; server.stop()
"""

from __future__ import annotations


class FakeSerper:
    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def env(self) -> dict[str, str]:
        return {}
