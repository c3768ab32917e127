"""An in-memory result cache: entries expire after a TTL, the least recently used go first when it is full,
and concurrent requests for one key share a single fetch ("single flight").

A fetch runs as its own task, so a caller that gives up (deadline, cancellation) leaves it running for the
others; when the last caller waiting on it gives up, it is cancelled. Only successful results are kept.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0  # calls that started a fetch
    coalesced: int = 0  # calls that joined a fetch already running
    evictions: int = 0


@dataclass
class _Entry(Generic[V]):
    value: V
    expires_at: float
    size: int


class _Flight(Generic[V]):
    def __init__(self) -> None:
        self.task: asyncio.Task[V] | None = None
        self.waiters = 0


class ResultCache(Generic[V]):
    """TTL + LRU cache with single-flight fetches. `ttl_seconds`, `max_entries` or `max_size` of 0 turns
    storing off (concurrent calls are still coalesced). `size_of` weighs a value against `max_size`."""

    def __init__(
        self,
        ttl_seconds: float,
        max_entries: int,
        max_size: int = 0,
        size_of: Callable[[V], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._max_size = max_size if size_of else 0
        self._size_of = size_of
        self._clock = clock
        self._entries: OrderedDict[Hashable, _Entry[V]] = OrderedDict()
        self._flights: dict[Hashable, _Flight[V]] = {}
        self._size = 0
        self.stats = CacheStats()

    @property
    def enabled(self) -> bool:
        return self._ttl > 0 and self._max_entries > 0 and (self._size_of is None or self._max_size > 0)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        """The entries' total size (by `size_of`; 0 without it)."""
        return self._size

    @property
    def in_flight(self) -> int:
        return len(self._flights)

    def get(self, key: Hashable) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            self._remove(key)
            return None
        self._entries.move_to_end(key)
        return entry.value

    async def get_or_fetch(self, key: Hashable, fetch: Callable[[], Awaitable[V]]) -> V:
        value = self.get(key)
        if value is not None:
            self.stats.hits += 1
            return value
        flight = self._flights.get(key)
        if flight is None:
            self.stats.misses += 1
            flight = _Flight()
            flight.task = asyncio.create_task(self._run(key, flight, fetch))
            self._flights[key] = flight
        else:
            self.stats.coalesced += 1
        task = flight.task
        assert task is not None
        flight.waiters += 1
        try:
            # shield: one caller's cancellation must not cancel the fetch the others wait on.
            return await asyncio.shield(task)
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not task.done():
                task.cancel()
                if self._flights.get(key) is flight:
                    del self._flights[key]

    async def _run(self, key: Hashable, flight: _Flight[V], fetch: Callable[[], Awaitable[V]]) -> V:
        try:
            value = await fetch()
        finally:
            if self._flights.get(key) is flight:
                del self._flights[key]
        self._store(key, value)
        return value

    def _store(self, key: Hashable, value: V) -> None:
        if not self.enabled:
            return
        size = self._size_of(value) if self._size_of else 0
        if self._max_size and size > self._max_size:
            return
        if key in self._entries:
            self._remove(key)
        self._entries[key] = _Entry(value, self._clock() + self._ttl, size)
        self._size += size
        while len(self._entries) > self._max_entries or (self._max_size and self._size > self._max_size):
            oldest = next(iter(self._entries))
            self._remove(oldest)
            self.stats.evictions += 1

    def _remove(self, key: Hashable) -> None:
        entry = self._entries.pop(key)
        self._size -= entry.size

    def clear(self) -> None:
        self._entries.clear()
        self._size = 0
