"""All of the chat service's SQL (schema `chat`, see migrations/).

Every conversation query is scoped to its owner: the user, and the project when the caller used a project's
key. Items are read and written only through a conversation found that way, so another caller's ids are
simply not found. Appends number items from the conversation's next_seq under its row lock (one UPDATE),
so concurrent appends never interleave, and each append is one short transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import asyncpg

from services.chat.domain import Conversation, Item, NewItem, Owner, Page

T = TypeVar("T")
_CONVERSATION = "id, extract(epoch FROM created_at)::bigint AS created_at, metadata, title"
_ITEM = "id, type, extract(epoch FROM created_at)::bigint AS created_at, body"
_SCOPE = "user_id = $2 AND ($3::text IS NULL OR project_id = $3)"  # $2, $3: the owner
_HISTORY_PAGE = 200


def _conversation(row: asyncpg.Record) -> Conversation:
    return Conversation(row["id"], row["created_at"], json.loads(row["metadata"]), row["title"])


def _item(row: asyncpg.Record) -> Item:
    return Item(row["id"], row["type"], row["created_at"], json.loads(row["body"]))


def _page(rows: list[asyncpg.Record], limit: int, convert: Callable[[asyncpg.Record], T]) -> Page[T]:
    return Page([convert(r) for r in rows[:limit]], has_more=len(rows) > limit)


class CursorNotFound(LookupError):
    """The `after` id of a page request is not in the listed collection."""


class ConversationStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # -- conversations ----------------------------------------------------------------------------------

    async def create(
        self, conversation_id: str, owner: Owner, title: str, metadata: dict[str, str], items: list[NewItem]
    ) -> Conversation:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "INSERT INTO chat.conversations (id, user_id, project_id, title, metadata, next_seq)"
                f" VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_CONVERSATION}",
                conversation_id,
                owner.user_id,
                owner.project_id,
                title,
                json.dumps(metadata),
                len(items) + 1,
            )
            await self._insert_items(conn, conversation_id, 1, items)
        return _conversation(row)

    async def get(self, conversation_id: str, owner: Owner) -> Conversation | None:
        row = await self._pool.fetchrow(
            f"SELECT {_CONVERSATION} FROM chat.conversations WHERE id = $1 AND {_SCOPE}",
            conversation_id,
            owner.user_id,
            owner.project_id,
        )
        return _conversation(row) if row else None

    async def list_conversations(
        self, owner: Owner, limit: int, after: str | None, newest_first: bool
    ) -> Page[Conversation]:
        direction, compare = ("DESC", "<") if newest_first else ("ASC", ">")
        async with self._pool.acquire() as conn:
            cursor: tuple[datetime, str] | None = None
            if after:
                found = await conn.fetchrow(
                    f"SELECT created_at, id FROM chat.conversations WHERE id = $1 AND {_SCOPE}",
                    after,
                    owner.user_id,
                    owner.project_id,
                )
                if found is None:
                    raise CursorNotFound(after)
                cursor = (found["created_at"], found["id"])
            # c.created_at: unqualified, ORDER BY would take the output column (whole seconds).
            rows = await conn.fetch(
                f"SELECT {_CONVERSATION} FROM chat.conversations c"
                " WHERE user_id = $1 AND ($2::text IS NULL OR project_id = $2)"
                f" AND ($3::timestamptz IS NULL OR (c.created_at, c.id) {compare} ($3, $4))"
                f" ORDER BY c.created_at {direction}, c.id {direction} LIMIT $5",
                owner.user_id,
                owner.project_id,
                cursor[0] if cursor else None,
                cursor[1] if cursor else None,
                limit + 1,
            )
        return _page(rows, limit, _conversation)

    async def update(
        self, conversation_id: str, owner: Owner, metadata: dict[str, str], title: str | None
    ) -> Conversation | None:
        row = await self._pool.fetchrow(
            f"UPDATE chat.conversations SET metadata = $4, title = coalesce($5, title) WHERE id = $1 AND {_SCOPE}"
            f" RETURNING {_CONVERSATION}",
            conversation_id,
            owner.user_id,
            owner.project_id,
            json.dumps(metadata),
            title,
        )
        return _conversation(row) if row else None

    async def delete(self, conversation_id: str, owner: Owner) -> bool:
        result = await self._pool.execute(
            f"DELETE FROM chat.conversations WHERE id = $1 AND {_SCOPE}",
            conversation_id,
            owner.user_id,
            owner.project_id,
        )
        return result == "DELETE 1"

    # -- items ------------------------------------------------------------------------------------------

    async def append(self, conversation_id: str, owner: Owner, items: list[NewItem]) -> list[Item] | None:
        """Adds items at the end, in one transaction; None when the owner has no such conversation."""
        async with self._pool.acquire() as conn, conn.transaction():
            first = await conn.fetchval(
                f"UPDATE chat.conversations SET next_seq = next_seq + $4 WHERE id = $1 AND {_SCOPE}"
                " RETURNING next_seq - $4",
                conversation_id,
                owner.user_id,
                owner.project_id,
                len(items),
            )
            if first is None:
                return None
            return await self._insert_items(conn, conversation_id, first, items)

    @staticmethod
    async def _insert_items(
        conn: asyncpg.Connection, conversation_id: str, first_seq: int, items: list[NewItem]
    ) -> list[Item]:
        """One statement for all items, numbered from first_seq in the order given."""
        if not items:
            return []
        bodies = [json.dumps(i.body) for i in items]
        rows = await conn.fetch(
            "INSERT INTO chat.items (id, conversation_id, seq, type, role, size, body)"
            " SELECT id, $1, $2 + n - 1, type, role, octet_length(body), body::jsonb"
            " FROM unnest($3::text[], $4::text[], $5::text[], $6::text[])"
            " WITH ORDINALITY AS t (id, type, role, body, n)"
            f" RETURNING seq, {_ITEM}",
            conversation_id,
            first_seq,
            [i.id for i in items],
            [i.type for i in items],
            [i.body.get("role") if i.type == "message" else None for i in items],
            bodies,
        )
        return [_item(r) for r in sorted(rows, key=lambda r: r["seq"])]

    async def item_seq(self, conversation_id: str, item_id: str) -> int | None:
        return await self._pool.fetchval(
            "SELECT seq FROM chat.items WHERE id = $1 AND conversation_id = $2", item_id, conversation_id
        )

    async def list_items(
        self, conversation_id: str, limit: int, after_seq: int | None, newest_first: bool
    ) -> Page[Item]:
        direction, compare = ("DESC", "<") if newest_first else ("ASC", ">")
        rows = await self._pool.fetch(
            f"SELECT {_ITEM} FROM chat.items WHERE conversation_id = $1"
            f" AND ($2::bigint IS NULL OR seq {compare} $2) ORDER BY seq {direction} LIMIT $3",
            conversation_id,
            after_seq,
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

    async def history(self, conversation_id: str, budget_bytes: int) -> list[Item]:
        """The items to replay, in order: every system and developer message, and the newest other items
        whose bodies fit `budget_bytes` together (read newest first, a page at a time, so a long
        conversation costs what fits, not what it holds)."""
        async with self._pool.acquire() as conn:
            instructions = await conn.fetch(
                f"SELECT seq, {_ITEM} FROM chat.items WHERE conversation_id = $1"
                " AND role IN ('system', 'developer') ORDER BY seq",
                conversation_id,
            )
            recent: list[asyncpg.Record] = []
            used, before = 0, None
            while used < budget_bytes:
                page = await conn.fetch(
                    f"SELECT seq, size, role, {_ITEM} FROM chat.items WHERE conversation_id = $1"
                    " AND ($2::bigint IS NULL OR seq < $2) ORDER BY seq DESC LIMIT $3",
                    conversation_id,
                    before,
                    _HISTORY_PAGE,
                )
                for row in page:
                    if row["role"] in ("system", "developer"):
                        continue
                    used += row["size"]
                    if used > budget_bytes:
                        break
                    recent.append(row)
                if len(page) < _HISTORY_PAGE:
                    break
                before = page[-1]["seq"]
        rows = sorted([*instructions, *recent], key=lambda r: r["seq"])
        return [_item(r) for r in rows]
