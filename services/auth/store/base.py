"""The plumbing every part of the Store shares: the pool or connection, transactions, NOTIFY, and the
columns and paging that more than one part uses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Self, TypeVar

import asyncpg

from services.auth.domain import Page

T = TypeVar("T")

INVALIDATION_CHANNEL = "jan_auth_invalidate"

USER_COLUMNS = "u.id, u.email, u.name, u.is_guest, u.created_at"


def page_of(rows: Sequence[asyncpg.Record], limit: int, convert: Callable[[asyncpg.Record], T]) -> Page[T]:
    """A keyset page from `limit + 1` rows: the extra row only says that there is more."""
    return Page([convert(r) for r in rows[:limit]], len(rows) > limit)


class StoreBase:
    def __init__(self, db: asyncpg.Pool | asyncpg.Connection) -> None:
        self._db = db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Self]:
        if isinstance(self._db, asyncpg.Connection):
            async with self._db.transaction():
                yield self
            return
        async with self._db.acquire() as conn, conn.transaction():
            yield type(self)(conn)

    async def notify(self, *payloads: str) -> None:
        for payload in payloads:
            await self._db.execute("SELECT pg_notify($1, $2)", INVALIDATION_CHANNEL, payload)

    async def org_id(self) -> str:
        return await self._db.fetchval("SELECT id FROM auth.organizations ORDER BY created_at, id LIMIT 1")
