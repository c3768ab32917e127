"""The SQL of conversations and their items (schema `chat`).

Every conversation query is scoped to its owner: the user, and the project when the caller used a project's
key. Items are read and written only through a conversation found that way, so another caller's ids are
simply not found.

Writes are one statement each (one round trip, its own short transaction): an append numbers its items from
the conversation's next_seq and byte offsets from its total_size in the same UPDATE that takes the
conversation's row lock, so concurrent appends never interleave; that UPDATE also counts the items
(item_count) and refuses an append that would take the conversation past its limit, so concurrent appends
cannot overshoot it either. Reads that page or replay use index ranges
only: a page after a cursor starts at the cursor's seq, and the history a completion replays is the range
of end offsets within its byte budget (plus the instructions), whatever the conversation's length.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeAlias, TypeVar

import asyncpg

from services.chat.domain import Conversation, Item, NewItem, Owner, Page

T = TypeVar("T")
_CONVERSATION = "id, extract(epoch FROM created_at)::bigint AS created_at, metadata, title"
_ITEM = "id, type, extract(epoch FROM created_at)::bigint AS created_at, body"
_SCOPE = "user_id = $2 AND ($3::text IS NULL OR project_id = $3)"  # $2, $3: the owner
_INSERT_ITEMS = (
    "INSERT INTO chat.items (id, conversation_id, seq, end_offset, type, role, size, body)"
    " SELECT t.id, {conversation}, {first_seq} + t.n - 1, {first_offset} + t.end_offset, t.type, t.role,"
    " octet_length(t.body), t.body::jsonb"
    " FROM {source} unnest({arrays}) WITH ORDINALITY AS t (id, type, role, body, end_offset, n)"
)


# Other writes an append makes in its own statement, so all land or none: given the number of its first
# parameter, their SQL as WITH entries (`name AS (...)`, comma-separated; each may read the append's `numbered`
# CTE, one row when the append goes ahead, and its $1 conversation id and $2/$3 owner) and their values.
# A response stored in its conversation is one; a background response finished with its turn another.
AlsoInserted: TypeAlias = Callable[[int], tuple[str, list[object]]]


def _conversation(row: asyncpg.Record) -> Conversation:
    return Conversation(row["id"], row["created_at"], json.loads(row["metadata"]), row["title"])


def _item(row: asyncpg.Record) -> Item:
    return Item(row["id"], row["type"], row["created_at"], json.loads(row["body"]))


def _page(rows: list[asyncpg.Record], limit: int, convert: Callable[[asyncpg.Record], T]) -> Page[T]:
    return Page([convert(r) for r in rows[:limit]], has_more=len(rows) > limit)


def _item_arrays(items: list[NewItem]) -> tuple[list[str], list[str], list[str | None], list[str], list[int], int]:
    """The columns of an item insert, and the bytes the items add (each item's end offset is relative)."""
    bodies = [json.dumps(i.body) for i in items]
    offsets, total = [], 0
    for body in bodies:
        total += len(body.encode())
        offsets.append(total)
    roles = [i.body.get("role") if i.type == "message" else None for i in items]
    return [i.id for i in items], [i.type for i in items], roles, bodies, offsets, total


class CursorNotFound(LookupError):
    """The `after` id of a page request is not in the listed collection."""


class ConversationFull(Exception):
    """An append would take the conversation past its item limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the conversation holds its limit of {limit} items")
        self.limit = limit


class ConversationStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # -- conversations ----------------------------------------------------------------------------------

    async def create(
        self, conversation_id: str, owner: Owner, title: str, metadata: dict[str, str], items: list[NewItem]
    ) -> Conversation:
        """A conversation with its first items, in one statement."""
        ids, kinds, roles, bodies, offsets, total = _item_arrays(items)
        insert_items = _INSERT_ITEMS.format(
            conversation="$1",
            first_seq="1",
            first_offset="0",
            source="",
            arrays="$8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[]",
        )
        row = await self._pool.fetchrow(
            "WITH created AS ("
            "INSERT INTO chat.conversations"
            " (id, user_id, project_id, title, metadata, next_seq, total_size, item_count)"
            f" VALUES ($1, $2, $3, $4, $5, $6, $7, $6::bigint - 1) RETURNING {_CONVERSATION}),"
            f" added AS ({insert_items})"
            " SELECT * FROM created",
            conversation_id,
            owner.user_id,
            owner.project_id,
            title,
            json.dumps(metadata),
            len(items) + 1,
            total,
            ids,
            kinds,
            roles,
            bodies,
            offsets,
        )
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
        # c.created_at: unqualified, ORDER BY would take the output column (whole seconds).
        mine = "FROM chat.conversations c WHERE user_id = $1 AND ($2::text IS NULL OR project_id = $2)"
        order = f"ORDER BY c.created_at {direction}, c.id {direction}"
        async with self._pool.acquire() as conn:
            if not after:
                rows = await conn.fetch(
                    f"SELECT {_CONVERSATION} {mine} {order} LIMIT $3", owner.user_id, owner.project_id, limit + 1
                )
                return _page(rows, limit, _conversation)
            cursor = await conn.fetchrow(
                "SELECT created_at, id FROM chat.conversations WHERE id = $3 AND user_id = $1"
                " AND ($2::text IS NULL OR project_id = $2)",
                owner.user_id,
                owner.project_id,
                after,
            )
            if cursor is None:
                raise CursorNotFound(after)
            rows = await conn.fetch(
                f"SELECT {_CONVERSATION} {mine} AND (c.created_at, c.id) {compare} ($3, $4) {order} LIMIT $5",
                owner.user_id,
                owner.project_id,
                cursor["created_at"],
                cursor["id"],
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

    async def append(
        self, conversation_id: str, owner: Owner, items: list[NewItem], max_items: int, also: AlsoInserted | None = None
    ) -> list[Item] | None:
        """Adds items at the end, in one statement (with `also`'s insert, made only if the items are added);
        None when the owner has no such conversation. Raises ConversationFull when the conversation would then
        hold more than `max_items`."""
        ids, kinds, roles, bodies, offsets, total = _item_arrays(items)
        args: list[object] = [conversation_id, owner.user_id, owner.project_id, len(items), total]  # $1-$5
        args += [ids, kinds, roles, bodies, offsets, max_items]  # $6-$11
        also_sql, also_args = also(len(args) + 1) if also else ("", [])  # its parameters follow
        insert_items = _INSERT_ITEMS.format(
            conversation="$1",
            first_seq="c.first_seq",
            first_offset="c.first_offset",
            source="numbered c,",
            arrays="$6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[]",
        )
        rows = await self._pool.fetch(
            "WITH numbered AS ("
            "UPDATE chat.conversations"
            " SET next_seq = next_seq + $4, total_size = total_size + $5, item_count = item_count + $4"
            f" WHERE id = $1 AND {_SCOPE} AND item_count + $4 <= $11"
            " RETURNING next_seq - $4 AS first_seq, total_size - $5 AS first_offset)"
            f"{f', {also_sql}' if also_sql else ''}"
            f" {insert_items} RETURNING seq, {_ITEM}",
            *args,
            *also_args,
        )
        if not rows:
            if await self.get(conversation_id, owner) is not None:  # there, but full
                raise ConversationFull(max_items)
            return None
        return [_item(r) for r in sorted(rows, key=lambda r: r["seq"])]

    async def item_seq(self, conversation_id: str, item_id: str) -> int | None:
        return await self._pool.fetchval(
            "SELECT seq FROM chat.items WHERE id = $1 AND conversation_id = $2", item_id, conversation_id
        )

    async def list_items(
        self, conversation_id: str, limit: int, after_seq: int | None, newest_first: bool
    ) -> Page[Item]:
        direction, compare = ("DESC", "<") if newest_first else ("ASC", ">")
        if after_seq is None:
            rows = await self._pool.fetch(
                f"SELECT {_ITEM} FROM chat.items WHERE conversation_id = $1 ORDER BY seq {direction} LIMIT $2",
                conversation_id,
                limit + 1,
            )
        else:
            rows = await self._pool.fetch(
                f"SELECT {_ITEM} FROM chat.items WHERE conversation_id = $1 AND seq {compare} $2"
                f" ORDER BY seq {direction} LIMIT $3",
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
        """Deletes an item and counts it out of its conversation's items, in one statement."""
        result = await self._pool.execute(
            "WITH gone AS (DELETE FROM chat.items WHERE id = $1 AND conversation_id = $2 RETURNING conversation_id)"
            " UPDATE chat.conversations SET item_count = item_count - 1 WHERE id IN (SELECT conversation_id FROM gone)",
            item_id,
            conversation_id,
        )
        return result == "UPDATE 1"

    async def history(self, conversation_id: str, owner: Owner, budget_bytes: int) -> tuple[list[Item], int] | None:
        """The items a completion replays, in order: the newest that end within the last `budget_bytes` of the
        conversation (the oldest of them may start before: at most one item over), and every system and
        developer message; with how many items the conversation holds. None when the owner has no such
        conversation."""
        # One round trip: the owner's conversation (its total size places the window) and the items. A
        # conversation of someone else's yields no row at all, told apart from an empty one by `found`.
        rows = await self._pool.fetch(
            f"WITH c AS (SELECT total_size, item_count FROM chat.conversations WHERE id = $1 AND {_SCOPE}),"
            f" window_items AS (SELECT seq, {_ITEM} FROM chat.items, c WHERE conversation_id = $1"
            " AND end_offset > c.total_size - $4"
            f" UNION ALL SELECT seq, {_ITEM} FROM chat.items, c WHERE conversation_id = $1"
            " AND role IN ('system', 'developer') AND end_offset <= c.total_size - $4)"
            " SELECT true AS found, c.item_count AS item_count, w.* FROM c LEFT JOIN window_items w ON true"
            " ORDER BY w.seq",
            conversation_id,
            owner.user_id,
            owner.project_id,
            budget_bytes,
        )
        if not rows:
            return None
        return [_item(r) for r in rows if r["id"] is not None], rows[0]["item_count"]
