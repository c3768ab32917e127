"""Stored responses: retrieving, deleting, listing input items, following a response's events (replayed
from the stored Response for a foreground one, read from the event log for a background one, still being
made or not), and cancelling a background one."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator
from typing import Any

from jan.v1 import inference_service_pb2 as inference_pb
from services.chat.domain import Item, Owner, Page
from services.chat.responses_output import TERMINAL_EVENTS, Event, ResponseBuilder
from services.chat.store import ResponseStore
from services.chat.validation import check_page
from services.common.errors import InvalidArgument, NotFound

FOLLOW_POLL_SECONDS = 0.1  # how often a follower of a background response looks for new events
_TERMINAL_STATUSES = ("completed", "incomplete", "failed", "cancelled")


def _not_found(response_id: str) -> NotFound:
    return NotFound(f"No response found with id '{response_id[:64]}'", param="response_id")


class StoredResponses:
    def __init__(self, store: ResponseStore) -> None:
        self.store = store

    async def follow(self, response_id: str, owner: Owner, after: int) -> AsyncIterator[Event]:
        """A stored response's events after `after`, following one still being made until it ends."""
        stored = await self.store.get(response_id, owner)
        if stored is None:
            raise _not_found(response_id)
        if not stored.response.get("background"):
            for event in replay(stored.response):
                if event["sequence_number"] > after:
                    yield event
            return
        while True:
            events = await self.store.events_after(response_id, after)
            for event in events:
                after = event["sequence_number"]
                yield event
                if event["type"] in TERMINAL_EVENTS:
                    return
            if not events:
                current = await self.store.get(response_id, owner)
                if current is None:
                    return  # deleted
                if current.status in _TERMINAL_STATUSES:  # it ended since the read above: what it logged last
                    for event in await self.store.events_after(response_id, after):
                        yield event
                    return
                await asyncio.sleep(FOLLOW_POLL_SECONDS)

    async def cancel(self, response_id: str, owner: Owner) -> dict[str, Any]:
        stored = await self.store.get(response_id, owner)
        if stored is None:
            raise _not_found(response_id)
        if not stored.response.get("background"):
            raise InvalidArgument("only background responses can be cancelled", param="response_id")
        if stored.status in ("completed", "incomplete", "failed"):
            return stored.response
        await self.store.request_cancel(response_id, owner)
        deadline = time.monotonic() + 2.0  # the runner notices within a heartbeat
        while time.monotonic() < deadline:
            current = await self.store.get(response_id, owner)
            if current is None or current.status in _TERMINAL_STATUSES:
                break
            await asyncio.sleep(0.1)
        current = await self.store.get(response_id, owner)
        if current is None:
            raise _not_found(response_id)
        return current.response

    # -- stored ones ----------------------------------------------------------------------------------

    async def retrieve(self, response_id: str, owner: Owner) -> dict[str, Any]:
        stored = await self.store.get(response_id, owner)
        if stored is None:
            raise _not_found(response_id)
        return stored.response

    async def delete(self, response_id: str, owner: Owner) -> None:
        if not await self.store.delete(response_id, owner):
            raise _not_found(response_id)

    async def input_items(
        self, response_id: str, owner: Owner, limit: int | None, after: str, order: str
    ) -> Page[Item]:
        size, newest_first = check_page(limit, order)
        if await self.store.get(response_id, owner) is None:
            raise _not_found(response_id)
        after_seq = None
        if after:
            after_seq = await self.store.input_item_position(response_id, after)
            if after_seq is None:
                raise InvalidArgument(f"after names no input item of this response: '{after[:64]}'", param="after")
        return await self.store.input_items(response_id, size, after_seq, newest_first)


def replay(response: dict[str, Any]) -> list[Event]:
    """The events of a foreground response rebuilt from what was stored (one delta per text)."""
    builder = ResponseBuilder(response["id"], {})
    builder.response = {**copy.deepcopy(response), "status": "in_progress", "output": []}
    builder.response.pop("usage", None)
    events = builder.started()
    for item in response["output"]:
        step = inference_pb.GenerateResponse()
        if item["type"] == "reasoning":
            step.reasoning_content = "".join(p.get("text", "") for p in item.get("content", []))
        elif item["type"] == "message":
            step.content = "".join(p.get("text", "") for p in item.get("content", []))
        elif item["type"] == "function_call":
            piece = step.tool_calls.add(index=len(builder.response["output"]), id=item["call_id"])
            piece.function.name, piece.function.arguments = item["name"], item["arguments"]
        else:
            continue
        events += builder.step(step)
    events += builder.replayed_end(response)
    return events
