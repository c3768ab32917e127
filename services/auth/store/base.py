"""The plumbing every part of the Store shares: the pool or connection, transactions, cache invalidation,
and the columns and paging that more than one part uses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Self, TypeVar

import asyncpg

from services.auth.domain import Page
from services.auth.invalidation import CHANNEL, Invalidation, encode

T = TypeVar("T")

Published = Callable[[Sequence[Invalidation]], None]

USER_COLUMNS = "u.id, u.email, u.name, u.is_guest, u.created_at"


def page_of(rows: Sequence[asyncpg.Record], limit: int, convert: Callable[[asyncpg.Record], T]) -> Page[T]:
    """A keyset page from `limit + 1` rows: the extra row only says that there is more."""
    return Page([convert(r) for r in rows[:limit]], len(rows) > limit)


def _nobody(_events: Sequence[Invalidation]) -> None:
    pass


class StoreBase:
    def __init__(self, db: asyncpg.Pool | asyncpg.Connection, published: Published = _nobody) -> None:
        """`published` receives this replica's invalidations once they are committed (its caches' hub)."""
        self._db = db
        self._published = published
        self._on_commit: list[Invalidation] | None = None  # inside transaction(): published when it commits

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Self]:
        """A store on one connection inside a transaction; its invalidations reach this replica's caches
        after the commit (and nowhere if it rolls back). Nested, it is a savepoint of the same one."""
        if isinstance(self._db, asyncpg.Connection):
            async with self._db.transaction():
                yield self
            return
        async with self._db.acquire() as conn:
            tx = type(self)(conn, self._published)
            on_commit: list[Invalidation] = []
            tx._on_commit = on_commit
            async with conn.transaction():
                yield tx
        if on_commit:  # committed (an exception would have left above): PostgreSQL is telling the others
            self._published(on_commit)

    async def invalidate(self, *events: Invalidation) -> None:
        """The one call for a change that can make a cached authz answer stale. Tells the other replicas
        through pg_notify in this transaction (delivered by PostgreSQL when, and only if, it commits), and
        this replica's caches after the commit (at once when not in a transaction)."""
        if not events:
            return
        payloads = [encode(e) for e in events]
        await self._db.execute("SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload", CHANNEL, payloads)
        if self._on_commit is not None:
            self._on_commit.extend(events)
        else:
            self._published(events)

    async def org_id(self) -> str:
        return await self._db.fetchval("SELECT id FROM auth.organizations ORDER BY created_at, id LIMIT 1")
