"""The chat service's SQL against real PostgreSQL: items numbered and offset per conversation, the history a
completion replays (the newest items within a byte budget plus every instruction), owner scoping."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.chat import items
from services.chat.domain import Owner
from services.chat.server import MIGRATIONS
from services.chat.store import ConversationFull, ConversationStore, ResponseStore, finished_with_turn, stored_with_turn
from services.common.db import apply_migrations

ALICE = Owner("user_alice")
MAX_ITEMS = 10_000


@pytest.fixture
async def pool(database_factory) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_factory("chat"), min_size=1, max_size=4)
    await apply_migrations(pool, "chat", MIGRATIONS)
    yield pool
    await pool.close()


@pytest.fixture
def store(pool: asyncpg.Pool) -> ConversationStore:
    return ConversationStore(pool)


def message(role: str, text: str):
    return items.check_input_item({"role": role, "content": text}, "i")


async def test_history_is_the_newest_items_within_the_budget_and_every_instruction(store: ConversationStore) -> None:
    conversation = await store.create("conv_h", ALICE, "t", {}, [message("system", "be brief")])
    for i in range(50):
        await store.append(
            conversation.id,
            ALICE,
            [message("user", f"question {i:02d}"), message("assistant", f"answer {i:02d}")],
            MAX_ITEMS,
        )
    one_turn = sum(
        len(json.dumps(m.body).encode()) for m in (message("user", "question 00"), message("assistant", "answer 00"))
    )
    found = await store.history(conversation.id, ALICE, budget_bytes=3 * one_turn)
    assert found is not None
    history, count = found
    assert count == 101
    texts = [i.body["content"][0]["text"] for i in history]
    assert texts[0] == "be brief"  # the instruction is kept however old
    assert texts[-6:] == ["question 47", "answer 47", "question 48", "answer 48", "question 49", "answer 49"]
    assert len(texts) <= 1 + 6 + 1  # at most one item over the budget
    whole = await store.history(conversation.id, ALICE, budget_bytes=10**9)
    assert whole is not None and len(whole[0]) == 101
    assert await store.history(conversation.id, Owner("user_bob"), 10**9) is None
    assert await store.history(conversation.id, Owner("user_alice", "proj_x"), 10**9) is None


async def test_items_are_numbered_per_conversation_and_appends_are_scoped(store: ConversationStore) -> None:
    first = await store.create("conv_a", ALICE, "", {}, [message("user", "a")])
    second = await store.create("conv_b", ALICE, "", {}, [])
    added = await store.append(first.id, ALICE, [message("assistant", "b"), message("user", "c")], MAX_ITEMS)
    assert added is not None and [await store.item_seq(first.id, i.id) for i in added] == [2, 3]
    assert await store.append(second.id, Owner("user_bob"), [message("user", "x")], MAX_ITEMS) is None
    assert (await store.list_items(second.id, 10, None, True)).data == []
    page = await store.list_items(first.id, 2, None, False)
    assert [i.body["content"][0]["text"] for i in page.data] == ["a", "b"] and page.has_more
    rest = await store.list_items(first.id, 2, 2, False)
    assert [i.body["content"][0]["text"] for i in rest.data] == ["c"] and not rest.has_more


async def test_an_append_past_the_item_limit_is_refused_in_its_own_statement(store: ConversationStore) -> None:
    """The limit is checked in the UPDATE that numbers the items: 20 concurrent appends of 2 items into a
    conversation of 1 with room for 10 leave it at exactly 9 or 10 items (4 or 5 appends land), never more;
    deleting an item makes room again."""
    conversation = await store.create("conv_full", ALICE, "", {}, [message("user", "first")])

    async def append(i: int) -> bool:
        try:
            await store.append(conversation.id, ALICE, [message("user", f"q{i}"), message("assistant", f"a{i}")], 10)
        except ConversationFull as full:
            assert full.limit == 10
            return False
        return True

    landed = sum(await asyncio.gather(*(append(i) for i in range(20))))
    assert landed == 4
    page = await store.list_items(conversation.id, 100, None, False)
    assert len(page.data) == 9
    with pytest.raises(ConversationFull):
        await store.append(conversation.id, ALICE, [message("user", "x"), message("user", "y")], 10)
    assert await store.append(conversation.id, ALICE, [message("user", "tenth")], 10)
    with pytest.raises(ConversationFull):
        await store.append(conversation.id, ALICE, [message("user", "eleventh")], 10)
    assert await store.delete_item(conversation.id, page.data[0].id)
    assert not await store.delete_item(conversation.id, page.data[0].id)
    assert await store.append(conversation.id, ALICE, [message("user", "room again")], 10)
    found = await store.history(conversation.id, ALICE, 10**9)
    assert found is not None and found[1] == 10 == len(found[0])
    # Someone else's conversation is not found, full or not.
    assert await store.append(conversation.id, Owner("user_bob"), [message("user", "x")], 10) is None


async def test_a_response_in_its_conversation_is_stored_with_its_turn_or_not_at_all(pool: asyncpg.Pool) -> None:
    """The response row is written by the statement that appends its turn: a full conversation, or another
    owner's, gets neither; one with room gets both, the response with the append's conversation and owner."""
    conversations, responses = ConversationStore(pool), ResponseStore(pool)
    conversation = await conversations.create("conv_r", ALICE, "", {}, [message("user", "first")])
    question = message("user", "q")

    def stored(response_id: str):
        return stored_with_turn({"id": response_id, "status": "completed", "output": []}, [question], None)

    with pytest.raises(ConversationFull):
        await conversations.append(conversation.id, ALICE, [question, message("assistant", "a")], 2, stored("r1"))
    assert await conversations.append(conversation.id, Owner("user_bob"), [question], 10, stored("r2")) is None
    added = await conversations.append(conversation.id, ALICE, [question, message("assistant", "a")], 3, stored("r3"))
    assert added is not None and len(added) == 2
    assert await responses.get("r1", ALICE) is None and await responses.get("r2", Owner("user_bob")) is None
    kept = await responses.get("r3", ALICE)
    assert kept is not None and kept.status == "completed" and kept.owner == ALICE
    assert await responses.get("r3", Owner("user_bob")) is None
    row = await pool.fetchrow("SELECT conversation_id, input FROM chat.responses WHERE id = 'r3'")
    assert row["conversation_id"] == conversation.id and json.loads(row["input"])[0]["id"] == question.id


async def test_a_background_response_in_its_conversation_ends_with_its_turn_or_not_at_all(pool: asyncpg.Pool) -> None:
    """The end of a background response (its row and last events) is written by the statement that appends its
    turn: a full conversation, or one gone, leaves it running with no new events; one with room gets both."""
    conversations, responses = ConversationStore(pool), ResponseStore(pool)
    conversation = await conversations.create("conv_bg", ALICE, "", {}, [message("user", "first")])
    running = {"id": "resp_bg", "status": "in_progress", "output": []}
    await responses.create(
        "resp_bg",
        ALICE,
        status="in_progress",
        background=True,
        request={},
        response=running,
        previous_response_id=None,
        conversation_id=conversation.id,
        input_items=[],
        events=[{"type": "response.created", "sequence_number": 0}],
    )
    done = {**running, "status": "completed"}
    end = [
        {"type": "response.output_text.done", "sequence_number": 1},
        {"type": "response.completed", "sequence_number": 2},
    ]
    turn = [message("user", "q"), message("assistant", "a")]

    with pytest.raises(ConversationFull):
        await conversations.append(conversation.id, ALICE, turn, 2, finished_with_turn("resp_bg", done, end))
    assert await conversations.append("conv_gone", ALICE, turn, 10, finished_with_turn("resp_bg", done, end)) is None
    still = await responses.get("resp_bg", ALICE)
    assert still is not None and still.status == "in_progress" and still.response == running
    assert [e["type"] for e in await responses.events_after("resp_bg", -1)] == ["response.created"]

    added = await conversations.append(conversation.id, ALICE, turn, 10, finished_with_turn("resp_bg", done, end))
    assert added is not None and len(added) == 2
    ended = await responses.get("resp_bg", ALICE)
    assert ended is not None and ended.status == "completed" and ended.response == done
    assert [e["sequence_number"] for e in await responses.events_after("resp_bg", -1)] == [0, 1, 2]
