"""The search service's own metrics (services/common/metrics.py has the call metrics every service records):
calls to Serper by endpoint and outcome (ok, or the error code the caller got), their duration (retries
included) and retries; the result cache's lookups (hit, miss, coalesced), evictions, entries and bytes, read
from the cache's own counters when Prometheus scrapes (nothing added to a lookup)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from services.common.metrics import ServiceMetrics
from services.search.cache import ResultCache

UPSTREAM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60)


class SearchMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        self._registry = metrics.registry
        self._requests = Counter(
            "jan_search_upstream_requests",
            "Calls to Serper (after retries), by endpoint and outcome: ok, or the error code the caller got",
            ("endpoint", "outcome"),
            registry=metrics.registry,
        )
        self._seconds = Histogram(
            "jan_search_upstream_seconds",
            "Time a call to Serper took, retries and their waits included",
            ("endpoint",),
            buckets=UPSTREAM_BUCKETS,
            registry=metrics.registry,
        )
        self._retries = Counter(
            "jan_search_upstream_retries",
            "Attempts at Serper after a call's first (timeouts, connection errors, 429, 5xx)",
            ("endpoint",),
            registry=metrics.registry,
        )

    def upstream(self, endpoint: str, outcome: str, attempts: int, seconds: float) -> None:
        self._requests.labels(endpoint, outcome).inc()
        self._seconds.labels(endpoint).observe(seconds)
        if attempts > 1:
            self._retries.labels(endpoint).inc(attempts - 1)

    def watch_cache(self, cache: ResultCache[Any]) -> None:
        self._registry.register(_CacheCollector(cache))


class _CacheCollector(Collector):
    def __init__(self, cache: ResultCache[Any]) -> None:
        self._cache = cache

    def collect(self) -> Iterator[Metric]:
        stats = self._cache.stats
        lookups = CounterMetricFamily(
            "jan_search_cache_lookups",
            "Searches and scrapes by how the cache answered: hit, miss (fetched from Serper), coalesced (joined "
            "a fetch of the same query already running)",
            labels=("result",),
        )
        lookups.add_metric(("hit",), stats.hits)
        lookups.add_metric(("miss",), stats.misses)
        lookups.add_metric(("coalesced",), stats.coalesced)
        yield lookups
        yield CounterMetricFamily(
            "jan_search_cache_evictions", "Results dropped to keep the cache within its bounds", value=stats.evictions
        )
        yield GaugeMetricFamily("jan_search_cache_entries", "Results in the cache", value=len(self._cache))
        yield GaugeMetricFamily(
            "jan_search_cache_bytes", "Approximate size of the results in the cache", value=self._cache.size
        )
