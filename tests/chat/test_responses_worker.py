"""The background runner's event log against real PostgreSQL: batches reach followers while the response runs,
its ending event only with the response's end (so that ending can still be replaced, see _run)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.chat.domain import Owner
from services.chat.responses_worker import _EventLog
from services.chat.server import MIGRATIONS
from services.chat.store import ResponseStore
from services.common.db import apply_migrations


@pytest.fixture
async def store(database_factory) -> AsyncIterator[ResponseStore]:
    pool = await asyncpg.create_pool(database_factory("chat"), min_size=1, max_size=2)
    await apply_migrations(pool, "chat", MIGRATIONS)
    store = ResponseStore(pool)
    await store.create(
        "resp_log",
        Owner("user_alice"),
        status="in_progress",
        background=True,
        request={},
        response={"id": "resp_log", "status": "in_progress"},
        previous_response_id=None,
        conversation_id=None,
        input_items=[],
        events=[{"type": "response.created", "sequence_number": 0}],
    )
    yield store
    await pool.close()


async def _logged(store: ResponseStore) -> list[str]:
    return [e["type"] for e in await store.events_after("resp_log", -1)]


@pytest.mark.parametrize("ending", ["response.completed", "response.incomplete", "response.failed"])
async def test_the_ending_event_is_held_back_until_the_end(store: ResponseStore, ending: str) -> None:
    log = _EventLog(store, "resp_log", flush_seconds=0.01)
    log.add([{"type": "response.output_text.delta", "sequence_number": 1}])
    for _ in range(100):  # the writer logs the delta within a few flushes
        if len(await _logged(store)) == 2:
            break
        await asyncio.sleep(0.01)
    assert await _logged(store) == ["response.created", "response.output_text.delta"]
    log.add([{"type": "response.output_text.done", "sequence_number": 2}, {"type": ending, "sequence_number": 3}])
    await asyncio.sleep(0.2)  # many flushes: the done event is logged, the ending is not
    assert await _logged(store) == ["response.created", "response.output_text.delta", "response.output_text.done"]
    assert [e["type"] for e in await log.close()] == [ending]
