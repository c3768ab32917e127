"""The result cache: TTL, LRU, size budget, single flight, cancellation (pure asyncio, no network)."""

from __future__ import annotations

import asyncio

import pytest

from services.search.cache import ResultCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Upstream:
    """A fetch that counts its calls and can be held open."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.release.set()
        self.cancelled = 0

    def fetch(self, value: str):
        async def run() -> str:
            self.calls += 1
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
            return value

        return run


async def test_hit_within_ttl_and_miss_after_it() -> None:
    clock, upstream = Clock(), Upstream()
    cache: ResultCache[str] = ResultCache(ttl_seconds=60, max_entries=10, clock=clock)
    assert await cache.get_or_fetch("k", upstream.fetch("v1")) == "v1"
    clock.now += 59
    assert await cache.get_or_fetch("k", upstream.fetch("v2")) == "v1"
    clock.now += 1
    assert await cache.get_or_fetch("k", upstream.fetch("v3")) == "v3"
    assert upstream.calls == 2
    assert (cache.stats.hits, cache.stats.misses) == (1, 2)


async def test_least_recently_used_goes_first() -> None:
    upstream = Upstream()
    cache: ResultCache[str] = ResultCache(ttl_seconds=60, max_entries=2)
    await cache.get_or_fetch("a", upstream.fetch("a"))
    await cache.get_or_fetch("b", upstream.fetch("b"))
    await cache.get_or_fetch("a", upstream.fetch("a"))  # a is now the most recent
    await cache.get_or_fetch("c", upstream.fetch("c"))  # evicts b
    assert cache.get("a") == "a" and cache.get("c") == "c" and cache.get("b") is None
    assert cache.stats.evictions == 1 and len(cache) == 2


async def test_size_budget_evicts_and_skips_oversized_values() -> None:
    upstream = Upstream()
    cache: ResultCache[str] = ResultCache(ttl_seconds=60, max_entries=100, max_size=10, size_of=len)
    await cache.get_or_fetch("a", upstream.fetch("aaaa"))
    await cache.get_or_fetch("b", upstream.fetch("bbbb"))
    await cache.get_or_fetch("c", upstream.fetch("cccc"))  # 12 > 10: a goes
    assert cache.get("a") is None and cache.get("b") and cache.get("c")
    await cache.get_or_fetch("huge", upstream.fetch("x" * 11))
    assert cache.get("huge") is None and cache.get("b") and cache.get("c")


@pytest.mark.parametrize(("ttl", "entries"), [(0, 10), (60, 0)])
async def test_zero_ttl_or_size_turns_storing_off(ttl: float, entries: int) -> None:
    upstream = Upstream()
    cache: ResultCache[str] = ResultCache(ttl_seconds=ttl, max_entries=entries)
    await cache.get_or_fetch("k", upstream.fetch("v"))
    await cache.get_or_fetch("k", upstream.fetch("v"))
    assert upstream.calls == 2 and len(cache) == 0


async def test_concurrent_calls_share_one_fetch_even_with_storing_off() -> None:
    upstream = Upstream()
    upstream.release.clear()
    cache: ResultCache[str] = ResultCache(ttl_seconds=0, max_entries=0)
    calls = [asyncio.create_task(cache.get_or_fetch("k", upstream.fetch("v"))) for _ in range(20)]
    await asyncio.sleep(0.01)
    assert cache.in_flight == 1
    upstream.release.set()
    assert await asyncio.gather(*calls) == ["v"] * 20
    assert upstream.calls == 1 and cache.stats.coalesced == 19 and cache.in_flight == 0


async def test_errors_reach_every_waiter_and_are_not_cached() -> None:
    attempts = 0

    async def failing() -> str:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0.01)
        raise RuntimeError("boom")

    cache: ResultCache[str] = ResultCache(ttl_seconds=60, max_entries=10)
    results = await asyncio.gather(*(cache.get_or_fetch("k", failing) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results) and attempts == 1
    with pytest.raises(RuntimeError):
        await cache.get_or_fetch("k", failing)
    assert attempts == 2 and len(cache) == 0


async def test_one_waiter_leaving_does_not_cancel_the_fetch_for_others() -> None:
    upstream = Upstream()
    upstream.release.clear()
    cache: ResultCache[str] = ResultCache(ttl_seconds=60, max_entries=10)
    impatient = asyncio.create_task(cache.get_or_fetch("k", upstream.fetch("v")))
    patient = asyncio.create_task(cache.get_or_fetch("k", upstream.fetch("v")))
    await asyncio.sleep(0.01)
    impatient.cancel()
    await asyncio.sleep(0.01)
    upstream.release.set()
    assert await patient == "v" and upstream.cancelled == 0 and cache.get("k") == "v"


async def test_fetch_is_cancelled_when_its_last_waiter_leaves() -> None:
    upstream = Upstream()
    upstream.release.clear()
    cache: ResultCache[str] = ResultCache(ttl_seconds=60, max_entries=10)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await cache.get_or_fetch("k", upstream.fetch("v"))
    await asyncio.sleep(0.01)
    assert upstream.cancelled == 1 and cache.in_flight == 0 and len(cache) == 0
    upstream.release.set()
    assert await cache.get_or_fetch("k", upstream.fetch("again")) == "again"  # a fresh fetch, not the dead one
