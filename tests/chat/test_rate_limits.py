"""Projects' rate limits counted across replicas (services/chat/rate_limits.py), with two limiters (two
replicas) on one real database: what one admits the other sees after a sync, the refusal carries retry-after
and OpenAI's x-ratelimit-* headers, tokens count against the minute, and a database that refuses the sync
loses no count."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.chat.rate_limits import Limits, RateLimiter
from services.chat.server import MIGRATIONS
from services.common.db import apply_migrations
from services.common.errors import ResourceExhausted


@pytest.fixture(autouse=True)
async def _within_one_minute() -> None:
    """Counts are per clock minute: a test that starts near the end of one waits for the next."""
    if time.time() % 60 > 50:
        await asyncio.sleep(61 - time.time() % 60)


@pytest.fixture
async def pool(database_factory) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_factory("rate"), min_size=1, max_size=4)
    await apply_migrations(pool, "chat", MIGRATIONS)
    yield pool
    await pool.close()


def admitted(limiter: RateLimiter, limits: Limits, times: int, project: str = "proj_a") -> int:
    count = 0
    for _ in range(times):
        try:
            limiter.admit(project, "m", limits)
            count += 1
        except ResourceExhausted:
            pass
    return count


async def test_two_replicas_share_the_requests_per_minute(pool: asyncpg.Pool) -> None:
    a, b = RateLimiter(pool, 3600), RateLimiter(pool, 3600)
    limits = Limits(requests_per_minute=5)
    assert admitted(a, limits, 3) == 3
    await a.sync()
    assert admitted(b, limits, 1) == 1  # b had not counted in this window: it learns at its sync
    await b.sync()
    await a.sync()
    assert admitted(a, limits, 3) == 1  # 3 + 1 + 1 = 5
    await a.sync()
    await b.sync()
    with pytest.raises(ResourceExhausted) as refused:
        b.admit("proj_a", "m", limits)
    error = refused.value
    assert error.code == "rate_limit_exceeded" and 1 <= (error.retry_after or 0) <= 60
    assert "RPM" in error.message and "Limit 5, Used 5" in error.message
    assert error.headers["x-ratelimit-limit-requests"] == "5"
    assert error.headers["x-ratelimit-remaining-requests"] == "0"
    assert error.headers["x-ratelimit-reset-requests"].endswith("s")
    assert admitted(b, limits, 1, project="proj_b") == 1  # another project has its own count


async def test_tokens_per_minute_and_requests_per_day(pool: asyncpg.Pool) -> None:
    limiter = RateLimiter(pool, 3600)
    limits = Limits(tokens_per_minute=100, requests_per_day=3)
    limiter.admit("p", "m", limits)
    limiter.count_tokens("p", "m", 100)  # the minute's tokens are spent
    with pytest.raises(ResourceExhausted) as spent:
        limiter.admit("p", "m", limits)
    assert "TPM" in spent.value.message and spent.value.headers["x-ratelimit-remaining-tokens"] == "0"
    daily = RateLimiter(pool, 3600)
    assert admitted(daily, Limits(requests_per_day=3), 5, project="q") == 3


async def test_counts_are_kept_while_the_database_refuses(pool: asyncpg.Pool) -> None:
    a, b = RateLimiter(pool, 3600), RateLimiter(pool, 3600)
    limits = Limits(requests_per_minute=4)
    assert admitted(a, limits, 3) == 3
    await pool.execute("ALTER TABLE chat.rate_counts RENAME TO rate_counts_away")
    await a.sync()  # fails: the counts stay unsynced
    await pool.execute("ALTER TABLE chat.rate_counts_away RENAME TO rate_counts")
    await a.sync()
    assert admitted(b, limits, 1) == 1
    await b.sync()
    assert await pool.fetchval("SELECT requests FROM chat.rate_counts WHERE width = 60") == 4


async def test_counts_are_kept_when_the_pool_itself_fails(database_factory) -> None:
    """Not only PostgreSQL's refusals: a closed pool (asyncpg's InterfaceError) must not end the sync either."""
    broken = await asyncpg.create_pool(database_factory("rate"), min_size=1, max_size=1)
    limiter = RateLimiter(broken, 0.01)
    await broken.close()
    assert admitted(limiter, Limits(requests_per_minute=4), 3) == 3
    await limiter.start()
    await asyncio.sleep(0.1)  # several syncs, each failing
    assert limiter._task is not None and not limiter._task.done()
    await limiter.stop()
    assert admitted(limiter, Limits(requests_per_minute=4), 3) == 1  # its own counts were kept
