"""What one caller may ask of the chat service (limits.py): output tokens per request (n × max_tokens; guests
less), the size of a stored item's JSON and the items of a conversation (guests fewer), as rules and through
Conversations and ChatCompletions against a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from google.protobuf import json_format

from jan.v1 import chat_service_pb2 as pb
from jan.v1 import inference_service_pb2 as inference_pb
from services.chat import convert, items
from services.chat.completions import ChatCompletions
from services.chat.conversations import Conversations
from services.chat.domain import ChatRequest, Owner
from services.chat.limits import SIGN_UP, Limits, bound_output
from services.chat.server import MIGRATIONS
from services.chat.settings import ChatSettings
from services.chat.store import ConversationStore
from services.common.db import apply_migrations
from services.common.errors import InvalidArgument
from tests.chat.test_completions import ScriptedInference, step

USER = Owner("user_limits")
GUEST = Owner("user_guest", guest=True)


def request(**fields: object) -> pb.ChatCompletionParams:
    return json_format.ParseDict(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}, pb.ChatCompletionParams()
    )


def chat(limit: int, guest: bool = False, **fields: object) -> ChatRequest:
    return convert.chat_request(request(**fields), "chatcmpl-l", stream=False, max_output_tokens=limit, guest=guest)


# -- output tokens ------------------------------------------------------------------------------------------


def test_n_times_max_tokens_up_to_the_limit_passes_unchanged() -> None:
    for fields in ({"max_tokens": 100}, {"max_tokens": 25, "n": 4}, {"max_completion_tokens": 100}):
        generate = chat(100, **fields).generate
        assert generate.default_max_tokens == 0  # max_tokens was given: nothing else bounds it
    assert chat(100, max_tokens=25, n=4).generate.sampling.max_tokens == 25


@pytest.mark.parametrize(
    ("fields", "param", "got"),
    [
        ({"max_tokens": 101}, "max_tokens", "got 101."),
        ({"max_tokens": 30, "n": 4}, "max_tokens", "got 30 × 4 = 120."),
        ({"max_completion_tokens": 200, "max_tokens": 1}, "max_completion_tokens", "got 200."),
        ({"n": 101}, "n", ""),
    ],
)
def test_over_the_limit_is_a_400_naming_the_field(fields: dict, param: str, got: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        chat(100, **fields)
    assert raised.value.param == param and "at most 100" in raised.value.message and got in raised.value.message
    assert SIGN_UP not in raised.value.message
    with pytest.raises(InvalidArgument) as raised:
        chat(100, guest=True, **fields)
    assert "for guest accounts" in raised.value.message and raised.value.message.endswith(SIGN_UP)


def test_without_max_tokens_each_answer_gets_its_share() -> None:
    assert chat(2048).generate.default_max_tokens == 2048
    assert chat(2048, n=3, temperature=1).generate.default_max_tokens == 682
    assert not chat(2048).generate.sampling.HasField("max_tokens")  # still fits whatever room the context has
    assert chat(0, n=128).generate.default_max_tokens == 0  # 0: no limit


def test_n_below_one_is_left_to_the_inference_service() -> None:
    generate = inference_pb.GenerateRequest()
    bound_output(generate, 0, 100, guest=False, param="max_tokens")
    assert generate.default_max_tokens == 0


def test_guests_get_their_own_limits_unless_turned_off() -> None:
    limits = Limits(max_output_tokens=32_768, guest_max_output_tokens=2_048)
    assert limits.output_tokens(guest=False) == 32_768 and limits.output_tokens(guest=True) == 2_048
    assert Limits(guest_max_output_tokens=0).output_tokens(guest=True) == 32_768
    assert Limits().conversation_items(guest=True) == 1_000 and Limits().conversation_items(guest=False) == 10_000
    assert Limits(guest_max_conversation_items=0).conversation_items(guest=True) == 10_000


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://localhost/unused")
    monkeypatch.setenv("JAN_IDENTITY_SECRET", "i" * 32)
    assert ChatSettings().limits() == Limits()
    monkeypatch.setenv("JAN_GUEST_MAX_OUTPUT_TOKENS", "512")
    monkeypatch.setenv("JAN_MAX_ITEM_BYTES", "4096")
    limits = ChatSettings().limits()
    assert limits.guest_max_output_tokens == 512 and limits.max_item_bytes == 4096


# -- stored conversations -----------------------------------------------------------------------------------


@pytest.fixture
async def store(database_factory) -> AsyncIterator[ConversationStore]:
    pool = await asyncpg.create_pool(database_factory("chat"), min_size=1, max_size=4)
    await apply_migrations(pool, "chat", MIGRATIONS)
    yield ConversationStore(pool)
    await pool.close()


LIMITS = Limits(max_item_bytes=2048, max_conversation_items=6, guest_max_conversation_items=3)


def text(size: int) -> dict:
    return {"role": "user", "content": "x" * size}


def test_an_items_size_is_its_whole_json() -> None:
    item = items.check_input_item({"role": "user", "content": "é" * 100}, "items[0]")
    assert items.item_bytes(item) > 200  # two bytes per é, plus the item's own fields
    assert items.check_size(item, 1024, "items[0]") is item
    with pytest.raises(InvalidArgument) as raised:
        items.check_size(item, 200, "items[0]")
    assert raised.value.param == "items[0]" and "at most 200 bytes" in raised.value.message


async def test_an_item_over_the_size_is_a_400_naming_it(store: ConversationStore) -> None:
    conversations = Conversations(store, LIMITS)
    with pytest.raises(InvalidArgument) as raised:
        await conversations.create(USER, {}, [text(10), text(4000)])
    assert raised.value.param == "items[1]" and "at most 2048 bytes" in raised.value.message
    conversation = await conversations.create(USER, {}, [text(1900)])
    with pytest.raises(InvalidArgument) as raised:
        await conversations.add_items(USER, conversation.id, [text(3000)])
    assert raised.value.param == "items[0]"
    # Many fields, each small, add up: the whole item counts.
    parts = [{"type": "input_text", "text": "y" * 100} for _ in range(30)]
    with pytest.raises(InvalidArgument):
        await conversations.add_items(USER, conversation.id, [{"role": "user", "content": parts}])


async def test_a_full_conversation_refuses_more_items(store: ConversationStore) -> None:
    conversations = Conversations(store, LIMITS)
    conversation = await conversations.create(USER, {}, [text(1)] * 4)
    await conversations.add_items(USER, conversation.id, [text(1)] * 2)
    with pytest.raises(InvalidArgument) as raised:
        await conversations.add_items(USER, conversation.id, [text(1)])
    error = raised.value
    assert error.param == "items" and error.code == "conversation_full"
    assert error.message.startswith("conversation is full: it may hold at most 6 items.")
    page = await conversations.list_items(USER, conversation.id, 10, "", "asc", [])
    await conversations.delete_item(USER, conversation.id, page.data[0].id)
    await conversations.add_items(USER, conversation.id, [text(1)])  # room again
    with pytest.raises(InvalidArgument):
        await conversations.create(USER, {}, [text(1)] * 7)


async def test_guests_conversations_hold_fewer_items(store: ConversationStore) -> None:
    conversations = Conversations(store, LIMITS)
    conversation = await conversations.create(GUEST, {}, [text(1)] * 3)
    with pytest.raises(InvalidArgument) as raised:
        await conversations.add_items(GUEST, conversation.id, [text(1)])
    assert "at most 3 items for guest accounts" in raised.value.message and raised.value.message.endswith(SIGN_UP)


async def test_a_stored_completion_is_refused_before_it_generates(store: ConversationStore) -> None:
    """A turn that would not fit its conversation, or whose message is over the item size, is refused before
    the inference service is asked anything."""
    conversations = Conversations(store, LIMITS)
    inference = ScriptedInference([step(content="ok", finish_reason="FINISH_REASON_STOP")])
    completions = ChatCompletions(inference, conversations)
    conversation = await conversations.create(GUEST, {}, [text(1)] * 2)
    with pytest.raises(InvalidArgument) as raised:  # 2 held + 1 question + the answer > 3
        await completions.with_conversation(chat(0, store=True, conversation=conversation.id), GUEST)
    assert raised.value.code == "conversation_full" and raised.value.param == "conversation"
    too_big = chat(0, store=True, messages=[{"role": "user", "content": "z" * 3000}])
    with pytest.raises(InvalidArgument) as raised:
        await completions.with_conversation(too_big, USER)
    assert raised.value.param == "messages"
    assert inference.requests == []
    registered = Owner(GUEST.user_id)  # the same account once signed up: room for 6 items
    fits = await completions.with_conversation(chat(0, store=True, conversation=conversation.id), registered)
    await completions.complete(fits, "chatcmpl-fits")
    assert len(inference.requests) == 1
