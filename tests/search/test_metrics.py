"""The search service's own metrics (services/search/metrics.py) from its Serper client against a local Serper:
calls by endpoint and outcome (ok, or the error code the caller got), retries, durations, and the cache's
lookups, evictions, entries and bytes read at scrape time."""

from __future__ import annotations

import httpx
import pytest

from services.common import errors
from services.common.metrics import ServiceMetrics
from services.search.domain import ScrapeQuery, SearchQuery
from services.search.metrics import SearchMetrics
from services.search.serper import SerperClient
from tests.search.conftest import config_for
from tests.support.fake_serper import FakeSerper


def sample(metrics: ServiceMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def measured(serper: FakeSerper, http: httpx.AsyncClient) -> tuple[SerperClient, ServiceMetrics]:
    metrics = ServiceMetrics()
    return SerperClient(http, config_for(serper, cache_max_entries=2), metrics=SearchMetrics(metrics)), metrics


async def test_upstream_calls_retries_and_failures(measured, serper: FakeSerper) -> None:
    client, metrics = measured
    await client.search(SearchQuery(q="one"))
    serper.fail_next(1, 503)
    await client.search(SearchQuery(q="two"))  # one retry, then ok
    serper.fail_next(3, 503)
    with pytest.raises(errors.Unavailable):
        await client.search(SearchQuery(q="three"))
    serper.fail_next(1, 401, endpoint="scrape")
    with pytest.raises(errors.Unavailable):
        await client.scrape(ScrapeQuery(url="https://example.com/a"))
    assert sample(metrics, "jan_search_upstream_requests_total", endpoint="search", outcome="ok") == 2
    assert sample(metrics, "jan_search_upstream_requests_total", endpoint="search", outcome="upstream_error") == 1
    assert sample(metrics, "jan_search_upstream_requests_total", endpoint="scrape", outcome="upstream_auth_failed") == 1
    assert sample(metrics, "jan_search_upstream_retries_total", endpoint="search") == 1 + 2
    assert sample(metrics, "jan_search_upstream_seconds_count", endpoint="search") == 3
    assert sample(metrics, "jan_search_upstream_seconds_count", endpoint="scrape") == 1


async def test_cache_lookups_are_read_from_the_cache(measured) -> None:
    client, metrics = measured
    for q in ("a", "a", "b", "c"):  # room for two: "a" is evicted by "c"
        await client.search(SearchQuery(q=q))
    assert sample(metrics, "jan_search_cache_lookups_total", result="hit") == 1
    assert sample(metrics, "jan_search_cache_lookups_total", result="miss") == 3
    assert sample(metrics, "jan_search_cache_lookups_total", result="coalesced") == 0
    assert sample(metrics, "jan_search_cache_evictions_total") == 1
    assert sample(metrics, "jan_search_cache_entries") == 2
    assert sample(metrics, "jan_search_cache_bytes") == client.cache.size > 0
