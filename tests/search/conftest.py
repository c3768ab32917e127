"""Fixtures for the search tests: a FakeSerper per test and Serper clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from services.search.serper import SerperClient, SerperConfig, create_http_client
from tests.auth.conftest import owner, rest  # noqa: F401 - fixtures, found by name (an admin key for Envoy)
from tests.support.fake_serper import FakeSerper

ClientFactory = Callable[..., SerperClient]


@pytest.fixture
def serper() -> Iterator[FakeSerper]:
    """A FakeSerper of this test's own (the session one serves the whole stack)."""
    fake = FakeSerper()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with create_http_client(timeout_seconds=5.0) as client:
        yield client


def config_for(fake: FakeSerper, **overrides: Any) -> SerperConfig:
    """Production defaults, except backoffs short enough for tests."""
    values: dict[str, Any] = {
        "api_key": fake.api_key,
        "search_url": fake.search_url,
        "scrape_url": fake.scrape_url,
        "timeout_seconds": 2.0,
        "max_attempts": 3,
        "backoff_initial_seconds": 0.01,
        "backoff_max_seconds": 0.05,
    }
    return SerperConfig(**(values | overrides))


@pytest.fixture
def make_client(serper: FakeSerper, http: httpx.AsyncClient) -> ClientFactory:
    def make(**overrides: Any) -> SerperClient:
        return SerperClient(http, config_for(serper, **overrides))

    return make
