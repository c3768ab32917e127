"""The SQL of stored responses (schema `chat`): the Response object (its output inside) and its input items in
one row, the event log of background responses, and the background queue.

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
from services.chat.store.conversations import AlsoInserted

QUEUE_CHANNEL = "jan_responses_queued"  # NOTIFYed with a background response's id when it is queued
_SCOPE = "user_id = $2 AND ($3::text IS NULL OR project_id = $3)"  # $2, $3: the owner


@dataclass(frozen=True, slots=True)
class StoredResponse:
    id: str
    owner: Owner
    status: str
    response: dict[str, Any]
    request: dict[str, Any]


def _input_item(stored: dict[str, Any], created_at: int) -> Item:
    return Item(stored["id"], stored["type"], created_at, stored["body"])


def _output_item(item: dict[str, Any], created_at: int) -> Item:
    return Item(item["id"], item["type"], created_at, {k: v for k, v in item.items() if k not in ("id", "type")})


def _stored(row: asyncpg.Record) -> StoredResponse:
    return StoredResponse(
        row["id"],
        Owner(row["user_id"], row["project_id"]),
        row["status"],
        json.loads(row["response"]),
        json.loads(row["request"]),
    )


def _input_json(items: list[NewItem]) -> str:
    return json.dumps([{"id": i.id, "type": i.type, "body": i.body} for i in items])


_COLUMNS = (
    "id, user_id, project_id, status, background, request, response, input, previous_response_id, conversation_id"
)


def stored_with_turn(
    response: dict[str, Any], input_items: list[NewItem], previous_response_id: str | None
) -> AlsoInserted:
    """A foreground response written in the statement that appends its turn to its conversation (see
    ConversationStore.append): stored only if the turn is, with the append's conversation and owner."""

    def insert(first: int) -> tuple[str, list[object]]:
        p = [f"${first + i}" for i in range(5)]
        sql = (
            f"stored AS (INSERT INTO chat.responses ({_COLUMNS})"
            f" SELECT {p[0]}, $2, $3, {p[1]}, false, '{{}}'::jsonb, {p[2]}::jsonb, {p[3]}::jsonb, {p[4]}, $1"
            " FROM numbered)"
        )
        values = [response["id"], response["status"], json.dumps(response), _input_json(input_items)]
        return sql, [*values, previous_response_id]

    return insert


def finished_with_turn(response_id: str, response: dict[str, Any], events: list[dict[str, Any]]) -> AlsoInserted:
    """A background response's end (ResponseStore.finish) written in the statement that appends its turn to its
    conversation: it ends so only if the turn is added."""

    def update(first: int) -> tuple[str, list[object]]:
        p = [f"${first + i}" for i in range(4)]
        sql = (
            f"finished AS (UPDATE chat.responses SET status = {p[1]}::jsonb->>'status', response = {p[1]}::jsonb,"
            f" updated_at = now() FROM numbered WHERE id = {p[0]}),"
            f" last_events AS ({_INSERT_EVENTS.format(response=p[0], first=p[2], second=p[3], source='numbered, ')})"
        )
        return sql, [response_id, json.dumps(response), *_event_arrays(events)]

    return update


# The events of a response; `source` lets the insert depend on another CTE's rows (`numbered, `) or not ('').
_INSERT_EVENTS = (
    "INSERT INTO chat.response_events (response_id, sequence_number, event)"
    " SELECT {response}, t.n, t.e::jsonb FROM {source}unnest({first}::int[], {second}::text[]) AS t (n, e)"
    " ON CONFLICT DO NOTHING"
)


def _event_arrays(events: list[dict[str, Any]]) -> tuple[list[int], list[str]]:
    return [e["sequence_number"] for e in events], [json.dumps(e) for e in events]


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
        events: list[dict[str, Any]] | None = None,
    ) -> None:
        """Stores a response with its input, and the first events of a background one, in one statement (a
        replica may take it the moment it commits)."""
        insert = f"INSERT INTO chat.responses ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        args = [
            response_id,
            owner.user_id,
            owner.project_id,
            status,
            background,
            json.dumps(request),
            json.dumps(response),
            _input_json(input_items),
            previous_response_id,
            conversation_id,
        ]
        if not events:  # a foreground response: one plain INSERT
            await self._pool.execute(insert, *args)
            return
        await self._pool.execute(
            f"WITH created AS ({insert} RETURNING id)"
            f" {_INSERT_EVENTS.format(response='$1', first='$11', second='$12', source='')}",
            *args,
            *_event_arrays(events),
        )

    async def finish(self, response_id: str, response: dict[str, Any], events: list[dict[str, Any]]) -> None:
        """Writes the final Response and its last events, in one statement: a follower that sees the response
        ended has seen all of its events."""
        await self._pool.execute(
            "WITH done AS (UPDATE chat.responses SET status = $2::jsonb->>'status', response = $2::jsonb,"
            " updated_at = now() WHERE id = $1 RETURNING id)"
            f" {_INSERT_EVENTS.format(response='$1', first='$3', second='$4', source='')}",
            response_id,
            json.dumps(response),
            *_event_arrays(events),
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

    async def input_item_position(self, response_id: str, item_id: str) -> int | None:
        return await self._pool.fetchval(
            "SELECT t.n FROM chat.responses r, jsonb_array_elements(r.input) WITH ORDINALITY AS t (item, n)"
            " WHERE r.id = $1 AND t.item->>'id' = $2",
            response_id,
            item_id,
        )

    async def input_items(self, response_id: str, limit: int, after: int | None, newest_first: bool) -> Page[Item]:
        """A page of a response's input items; `after`: the position (from 1) of the item the page follows."""
        direction, compare = ("DESC", "<") if newest_first else ("ASC", ">")
        cursor = f" AND t.n {compare} $3" if after is not None else ""
        args: list[Any] = [response_id, limit + 1] + ([after] if after is not None else [])
        rows = await self._pool.fetch(
            "SELECT t.item, extract(epoch FROM r.created_at)::bigint AS created_at"
            " FROM chat.responses r, jsonb_array_elements(r.input) WITH ORDINALITY AS t (item, n)"
            f" WHERE r.id = $1{cursor} ORDER BY t.n {direction} LIMIT $2",
            *args,
        )
        items = [_input_item(json.loads(r["item"]), r["created_at"]) for r in rows[:limit]]
        return Page(items, has_more=len(rows) > limit)

    async def chain(self, response_id: str, owner: Owner, budget_bytes: int) -> list[Item] | None:
        """What `previous_response_id` replays: the items (input, then output) of that response and of the
        ones it continued, oldest first, the newest that fit `budget_bytes`; None when the owner has no such
        response."""
        rows = await self._pool.fetch(
            "WITH RECURSIVE chain (id, depth) AS ("
            f"  SELECT id, 0 FROM chat.responses WHERE id = $1 AND {_SCOPE}"
            "  UNION ALL SELECT r.previous_response_id, c.depth + 1 FROM chain c JOIN chat.responses r ON r.id = c.id"
            "  WHERE r.previous_response_id IS NOT NULL AND c.depth < 100)"
            " SELECT r.input, r.response->'output' AS output, extract(epoch FROM r.created_at)::bigint AS created_at"
            " FROM chain c JOIN chat.responses r ON r.id = c.id ORDER BY c.depth",
            response_id,
            owner.user_id,
            owner.project_id,
        )
        if not rows:
            return None
        kept: list[Item] = []
        used = 0
        for row in rows:  # newest response first, its last item first
            created_at = row["created_at"]
            items = [_input_item(i, created_at) for i in json.loads(row["input"])]
            items += [_output_item(i, created_at) for i in json.loads(row["output"])]
            for item in reversed(items):
                used += len(json.dumps(item.body))
                if used > budget_bytes:
                    return kept[::-1]
                kept.append(item)
        return kept[::-1]

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

    async def queue_depth(self) -> tuple[int, float]:
        """Queued responses (all replicas') and the oldest one's wait in seconds (0 when none): the metrics'."""
        row = await self._pool.fetchrow(
            "SELECT count(*) AS queued, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS oldest"
            " FROM chat.responses WHERE status = 'queued'"
        )
        return int(row["queued"]), float(row["oldest"])

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
                _INSERT_EVENTS.format(response="$1", first="$2", second="$3", source=""),
                response_id,
                *_event_arrays(events),
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
