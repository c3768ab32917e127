"""The SQL of stored responses (schema `chat`): the Response object, its input and output items, the event log
of background responses, and the background queue.

Every read and write of a response is scoped to its owner, as conversations are. The queue is a status
column: a replica takes the oldest queued response with FOR UPDATE SKIP LOCKED (so replicas never take the
same one), shows life with a heartbeat that also reports a cancel request, and a response whose runner
stopped showing life is failed by whichever replica notices.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.chat.domain import Item, NewItem, Owner, Page

_SCOPE = "user_id = $2 AND ($3::text IS NULL OR project_id = $3)"  # $2, $3: the owner
_ITEM = "id, type, extract(epoch FROM created_at)::bigint AS created_at, body"


@dataclass(frozen=True, slots=True)
class StoredResponse:
    id: str
    owner: Owner
    status: str
    response: dict[str, Any]
    request: dict[str, Any]


def _item(row: asyncpg.Record) -> Item:
    return Item(row["id"], row["type"], row["created_at"], json.loads(row["body"]))


def _stored(row: asyncpg.Record) -> StoredResponse:
    return StoredResponse(
        row["id"],
        Owner(row["user_id"], row["project_id"]),
        row["status"],
        json.loads(row["response"]),
        json.loads(row["request"]),
    )


def _items(items: list[NewItem], first_seq: int, direction: str) -> tuple[list[Any], ...]:
    bodies = [json.dumps(i.body) for i in items]
    return (
        [first_seq + n for n in range(len(items))],
        [direction] * len(items),
        [i.id for i in items],
        [i.type for i in items],
        bodies,
    )


QUEUE_CHANNEL = "jan_responses_queued"  # NOTIFYed with a background response's id when it is queued
_OUTPUT_FIRST_SEQ = 100_000  # output items are numbered after any input (a request holds far fewer)
_INSERT_ITEMS = (
    "INSERT INTO chat.response_items (response_id, seq, direction, id, type, body, size)"
    " SELECT $1, t.seq, t.direction, t.id, t.type, t.body::jsonb, octet_length(t.body)"
    " FROM unnest({arrays}) AS t (seq, direction, id, type, body)"
)


_INSERT_EVENTS = (
    "INSERT INTO chat.response_events (response_id, sequence_number, event)"
    " SELECT $1, t.n, t.e::jsonb FROM unnest({first}::int[], {second}::text[]) AS t (n, e) ON CONFLICT DO NOTHING"
)


class ResponseStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(
        self,
        response_id: str,
        owner: Owner,
        *,
        status: str,
        background: bool,
        request: dict[str, Any],
        response: dict[str, Any],
        previous_response_id: str | None,
        conversation_id: str | None,
        input_items: list[NewItem],
        output_items: list[NewItem] | None = None,
        events: list[dict[str, Any]] | None = None,
    ) -> None:
        """Stores a response and its items (input; output too for one that already ended), and the first
        events of a background one, in one statement (a replica may take it the moment it commits)."""
        arrays = "$9::int[], $10::text[], $11::text[], $12::text[], $13::text[]"
        seqs, directions, ids, types, bodies = _items(input_items, 1, "input")
        if output_items:
            more = _items(output_items, _OUTPUT_FIRST_SEQ, "output")
            seqs, directions, ids, types, bodies = (
                a + b for a, b in zip((seqs, directions, ids, types, bodies), more, strict=True)
            )
        await self._pool.execute(
            "WITH created AS (INSERT INTO chat.responses (id, user_id, project_id, status, background, request,"
            " response, previous_response_id, conversation_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $14)"
            f" RETURNING id), logged AS ({_INSERT_EVENTS.format(first='$15', second='$16')})"
            f" {_INSERT_ITEMS.format(arrays=arrays)}",
            response_id,
            owner.user_id,
            owner.project_id,
            status,
            background,
            json.dumps(request),
            json.dumps(response),
            previous_response_id,
            seqs,
            directions,
            ids,
            types,
            bodies,
            conversation_id,
            [e["sequence_number"] for e in events or []],
            [json.dumps(e) for e in events or []],
        )

    async def finish(
        self, response_id: str, response: dict[str, Any], output_items: list[NewItem], events: list[dict[str, Any]]
    ) -> None:
        """Writes the final Response, its output items and its last events, in one statement: a follower that
        sees the response ended has seen all of its events."""
        arrays = "$3::int[], $4::text[], $5::text[], $6::text[], $7::text[]"
        await self._pool.execute(
            "WITH done AS (UPDATE chat.responses SET status = $2::jsonb->>'status', response = $2::jsonb,"
            " updated_at = now() WHERE id = $1 RETURNING id),"
            f" logged AS ({_INSERT_EVENTS.format(first='$8', second='$9')})"
            f" {_INSERT_ITEMS.format(arrays=arrays)}",
            response_id,
            json.dumps(response),
            *_items(output_items, _OUTPUT_FIRST_SEQ, "output"),
            [e["sequence_number"] for e in events],
            [json.dumps(e) for e in events],
        )

    async def get(self, response_id: str, owner: Owner) -> StoredResponse | None:
        row = await self._pool.fetchrow(
            f"SELECT id, user_id, project_id, status, response, request FROM chat.responses WHERE id = $1 AND {_SCOPE}",
            response_id,
            owner.user_id,
            owner.project_id,
        )
        return _stored(row) if row else None

    async def delete(self, response_id: str, owner: Owner) -> bool:
        result = await self._pool.execute(
            f"DELETE FROM chat.responses WHERE id = $1 AND {_SCOPE}", response_id, owner.user_id, owner.project_id
        )
        return result == "DELETE 1"

    async def input_item_seq(self, response_id: str, item_id: str) -> int | None:
        return await self._pool.fetchval(
            "SELECT seq FROM chat.response_items WHERE response_id = $1 AND id = $2 AND direction = 'input'",
            response_id,
            item_id,
        )

    async def input_items(self, response_id: str, limit: int, after_seq: int | None, newest_first: bool) -> Page[Item]:
        direction, compare = ("DESC", "<") if newest_first else ("ASC", ">")
        cursor = f" AND seq {compare} $3" if after_seq is not None else ""
        args: list[Any] = [response_id, limit + 1] + ([after_seq] if after_seq is not None else [])
        rows = await self._pool.fetch(
            f"SELECT {_ITEM} FROM chat.response_items WHERE response_id = $1 AND direction = 'input'{cursor}"
            f" ORDER BY seq {direction} LIMIT $2",
            *args,
        )
        return Page([_item(r) for r in rows[:limit]], has_more=len(rows) > limit)

    async def chain(self, response_id: str, owner: Owner, budget_bytes: int) -> list[Item] | None:
        """What `previous_response_id` replays: the items (input, then output) of that response and of the
        ones it continued, oldest first, the newest that fit `budget_bytes`; None when the owner has no such
        response."""
        rows = await self._pool.fetch(
            "WITH RECURSIVE chain (id, depth) AS ("
            f"  SELECT id, 0 FROM chat.responses WHERE id = $1 AND {_SCOPE}"
            "  UNION ALL SELECT r.previous_response_id, c.depth + 1 FROM chain c JOIN chat.responses r ON r.id = c.id"
            "  WHERE r.previous_response_id IS NOT NULL AND c.depth < 100)"
            " SELECT c.depth, i.seq, i.size, i.id, i.type, extract(epoch FROM i.created_at)::bigint AS created_at,"
            " i.body"
            " FROM chain c LEFT JOIN chat.response_items i ON i.response_id = c.id"
            " ORDER BY c.depth, i.seq DESC",
            response_id,
            owner.user_id,
            owner.project_id,
        )
        if not rows:
            return None
        kept, used = [], 0
        for row in rows:  # newest first: the latest response's last item first
            if row["id"] is None:
                continue
            used += row["size"]
            if used > budget_bytes:
                break
            kept.append(row)
        return [_item(r) for r in reversed(kept)]

    # -- the background queue -----------------------------------------------------------------------------

    async def claim(self, worker: str) -> StoredResponse | None:
        """Takes the oldest queued response, marking it in progress for `worker`."""
        row = await self._pool.fetchrow(
            "UPDATE chat.responses SET status = 'in_progress', worker = $1, heartbeat_at = now(), updated_at = now(),"
            " response = jsonb_set(response, '{status}', '\"in_progress\"')"
            " WHERE id = (SELECT id FROM chat.responses WHERE status = 'queued' ORDER BY created_at"
            "   FOR UPDATE SKIP LOCKED LIMIT 1)"
            " RETURNING id, user_id, project_id, status, response, request",
            worker,
        )
        return _stored(row) if row else None

    async def notify_queued(self, response_id: str) -> None:
        await self._pool.execute("SELECT pg_notify($1, $2)", QUEUE_CHANNEL, response_id)

    async def heartbeat(self, response_id: str, worker: str) -> bool:
        """Shows the runner is alive; True when a cancel was asked for."""
        cancel = await self._pool.fetchval(
            "UPDATE chat.responses SET heartbeat_at = now() WHERE id = $1 AND worker = $2 RETURNING cancel_requested",
            response_id,
            worker,
        )
        return bool(cancel) or cancel is None  # None: no longer ours (failed by a reaper): stop

    async def request_cancel(self, response_id: str, owner: Owner) -> StoredResponse | None:
        """Marks a background response to be stopped; a queued one is cancelled at once."""
        row = await self._pool.fetchrow(
            "UPDATE chat.responses SET cancel_requested = true,"
            " status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,"
            " response = CASE WHEN status = 'queued' THEN jsonb_set(response, '{status}', '\"cancelled\"')"
            "   ELSE response END, updated_at = now()"
            f" WHERE id = $1 AND {_SCOPE} RETURNING id, user_id, project_id, status, response, request",
            response_id,
            owner.user_id,
            owner.project_id,
        )
        return _stored(row) if row else None

    async def append_events(self, response_id: str, events: list[dict[str, Any]]) -> None:
        if events:
            await self._pool.execute(
                _INSERT_EVENTS.format(first="$2", second="$3"),
                response_id,
                [e["sequence_number"] for e in events],
                [json.dumps(e) for e in events],
            )

    async def events_after(self, response_id: str, after: int, limit: int = 500) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT event FROM chat.response_events WHERE response_id = $1 AND sequence_number > $2"
            " ORDER BY sequence_number LIMIT $3",
            response_id,
            after,
            limit,
        )
        return [json.loads(r["event"]) for r in rows]

    async def fail_stale(self, older_than_seconds: float) -> list[str]:
        """Fails the background responses whose runner has not shown life for that long, logging their
        response.failed event in the same statement; answers their ids."""
        rows = await self._pool.fetch(
            "WITH failed AS (UPDATE chat.responses SET status = 'failed', worker = NULL, updated_at = now(),"
            "   response = response || jsonb_build_object('status', 'failed', 'error', jsonb_build_object("
            "     'code', 'server_error', 'message', 'the replica running this response stopped; create it again'))"
            " WHERE status = 'in_progress' AND background AND heartbeat_at < now() - make_interval(secs => $1)"
            " RETURNING id, response,"
            "   (SELECT coalesce(max(e.sequence_number), -1) + 1 FROM chat.response_events e"
            "    WHERE e.response_id = chat.responses.id) AS next_sequence)"
            " INSERT INTO chat.response_events (response_id, sequence_number, event)"
            " SELECT id, next_sequence, jsonb_build_object('type', 'response.failed', 'sequence_number', next_sequence,"
            "   'response', response) FROM failed"
            " RETURNING response_id",
            older_than_seconds,
        )
        return [r["response_id"] for r in rows]

    async def last_sequence(self, response_id: str) -> int:
        """The sequence number of a background response's last logged event (-1: none)."""
        value = await self._pool.fetchval(
            "SELECT coalesce(max(sequence_number), -1) FROM chat.response_events WHERE response_id = $1", response_id
        )
        return int(value)
