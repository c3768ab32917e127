"""All of the chat service's SQL (schema `chat`, see migrations/)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeVar

import asyncpg

from services.chat.domain import Conversation, Item, NewItem, Page

T = TypeVar("T")
_CONVERSATION = "id, extract(epoch FROM created_at)::bigint AS created_at, metadata"
_ITEM = "id, type, extract(epoch FROM created_at)::bigint AS created_at, body"


def _conversation(row: asyncpg.Record) -> Conversation:
    return Conversation(row["id"], row["created_at"], json.loads(row["metadata"]))


def _item(row: asyncpg.Record) -> Item:
    return Item(row["id"], row["type"], row["created_at"], json.loads(row["body"]))


def _page(rows: list[asyncpg.Record], limit: int, convert: Callable[[asyncpg.Record], T]) -> Page[T]:
    return Page([convert(r) for r in rows[:limit]], has_more=len(rows) > limit)


class ConversationStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(
        self,
        conversation_id: str,
        user_id: str,
        project_id: str | None,
        metadata: dict[str, str],
        items: list[NewItem],
    ) -> Conversation:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"INSERT INTO chat.conversations (id, user_id, project_id, metadata) VALUES ($1, $2, $3, $4)"
                f" RETURNING {_CONVERSATION}",
                conversation_id,
                user_id,
                project_id,
                json.dumps(metadata),
            )
            await self._insert_items(conn, conversation_id, items)
        return _conversation(row)

    @staticmethod
    async def _insert_items(conn: asyncpg.Connection, conversation_id: str, items: list[NewItem]) -> list[Item]:
        """One statement for all items; they get their seq in the order given."""
        if not items:
            return []
        ids, kinds, bodies = zip(*((i.id, i.type, json.dumps(i.body)) for i in items), strict=True)
        rows = await conn.fetch(
            "INSERT INTO chat.items (id, conversation_id, type, body)"
            " SELECT id, $1, type, body::jsonb FROM unnest($2::text[], $3::text[], $4::text[])"
            " WITH ORDINALITY AS t (id, type, body, n) ORDER BY n"
            f" RETURNING seq, {_ITEM}",
            conversation_id,
            list(ids),
            list(kinds),
            list(bodies),
        )
        return [_item(r) for r in sorted(rows, key=lambda r: r["seq"])]

    async def get(self, conversation_id: str, user_id: str) -> Conversation | None:
        row = await self._pool.fetchrow(
            f"SELECT {_CONVERSATION} FROM chat.conversations WHERE id = $1 AND user_id = $2", conversation_id, user_id
        )
        return _conversation(row) if row else None

    async def list_conversations(
        self, user_id: str, limit: int, after: str | None, newest_first: bool
    ) -> Page[Conversation]:
        direction, compare = ("DESC", "<") if newest_first else ("ASC", ">")
        rows = await self._pool.fetch(
            f"SELECT {_CONVERSATION} FROM chat.conversations c WHERE user_id = $1"
            f" AND ($2::text IS NULL OR (c.created_at, c.id) {compare}"
            f"      (SELECT created_at, id FROM chat.conversations WHERE id = $2 AND user_id = $1))"
            f" ORDER BY c.created_at {direction}, c.id {direction} LIMIT $3",
            user_id,
            after,
            limit + 1,
        )
        return _page(rows, limit, _conversation)

    async def update(self, conversation_id: str, user_id: str, metadata: dict[str, str]) -> Conversation | None:
        row = await self._pool.fetchrow(
            f"UPDATE chat.conversations SET metadata = $3 WHERE id = $1 AND user_id = $2 RETURNING {_CONVERSATION}",
            conversation_id,
            user_id,
            json.dumps(metadata),
        )
        return _conversation(row) if row else None

    async def delete(self, conversation_id: str, user_id: str) -> bool:
        result = await self._pool.execute(
            "DELETE FROM chat.conversations WHERE id = $1 AND user_id = $2", conversation_id, user_id
        )
        return result == "DELETE 1"

    async def add_items(self, conversation_id: str, items: list[NewItem]) -> list[Item]:
        async with self._pool.acquire() as conn, conn.transaction():
            return await self._insert_items(conn, conversation_id, items)

    async def list_items(self, conversation_id: str, limit: int, after: str | None, newest_first: bool) -> Page[Item]:
        direction, compare = ("DESC", "<") if newest_first else ("ASC", ">")
        rows = await self._pool.fetch(
            f"SELECT {_ITEM} FROM chat.items i WHERE conversation_id = $1"
            f" AND ($2::text IS NULL OR i.seq {compare}"
            f"      (SELECT seq FROM chat.items WHERE id = $2 AND conversation_id = $1))"
            f" ORDER BY i.seq {direction} LIMIT $3",
            conversation_id,
            after,
            limit + 1,
        )
        return _page(rows, limit, _item)

    async def get_item(self, conversation_id: str, item_id: str) -> Item | None:
        row = await self._pool.fetchrow(
            f"SELECT {_ITEM} FROM chat.items WHERE id = $1 AND conversation_id = $2", item_id, conversation_id
        )
        return _item(row) if row else None

    async def delete_item(self, conversation_id: str, item_id: str) -> bool:
        result = await self._pool.execute(
            "DELETE FROM chat.items WHERE id = $1 AND conversation_id = $2", item_id, conversation_id
        )
        return result == "DELETE 1"
