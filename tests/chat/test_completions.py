"""The completion state machine against a scripted inference (no gRPC, no engine): what a stream emits and
in which order, whole answers, errors before and after the first chunk; and turns through a stored
conversation (real PostgreSQL): history replayed in front, the turn recorded, a stream cut short stored as
incomplete."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from google.protobuf import json_format

from jan.v1 import chat_service_pb2 as pb
from jan.v1 import inference_service_pb2 as inference_pb
from services.chat import convert
from services.chat.completions import ChatCompletions
from services.chat.conversations import Conversations
from services.chat.domain import (
    ChatRequest,
    ChoiceFinished,
    Generated,
    Owner,
    RoleStarted,
    StreamEvent,
    StreamFailed,
    UsageCounted,
)
from services.chat.server import MIGRATIONS
from services.chat.store import ConversationStore
from services.common.db import apply_migrations
from services.common.errors import InvalidArgument, NotFound, Unauthenticated, Unavailable

USAGE = {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}


def step(**fields: object) -> inference_pb.GenerateResponse:
    return json_format.ParseDict(fields, inference_pb.GenerateResponse())


class ScriptedInference:
    """Answers every call with the given steps; raises `fail` after `fail_after` steps (0: before any)."""

    def __init__(
        self, steps: list[inference_pb.GenerateResponse], fail: Exception | None = None, fail_after: int = 0
    ) -> None:
        self.steps, self.fail, self.fail_after = steps, fail, fail_after
        self.requests: list[inference_pb.GenerateRequest] = []
        self.closed = False

    async def list_models(self) -> list[inference_pb.ServedModel]:
        return [inference_pb.ServedModel(id="m", max_model_len=1024, created=1, owned_by="jan", root="/m")]

    async def generate(self, request: inference_pb.GenerateRequest) -> AsyncIterator[inference_pb.GenerateResponse]:
        self.requests.append(request)
        try:
            for i, s in enumerate(self.steps):
                if self.fail is not None and i == self.fail_after:
                    raise self.fail
                yield s
            if self.fail is not None and self.fail_after >= len(self.steps):
                raise self.fail
        finally:
            self.closed = True

    async def generate_whole(self, request: inference_pb.GenerateRequest) -> list[inference_pb.GenerateResponse]:
        self.requests.append(request)
        if self.fail is not None:
            raise self.fail
        return list(self.steps)


def chat_request(*, stream: bool = True, **fields: object) -> ChatRequest:
    params = json_format.ParseDict(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}, pb.ChatCompletionParams()
    )
    return convert.chat_request(params, "chatcmpl-t", stream=stream)


@pytest.fixture
async def conversations(database_factory) -> AsyncIterator[Conversations]:
    pool = await asyncpg.create_pool(database_factory("chat"), min_size=1, max_size=4)
    await apply_migrations(pool, "chat", MIGRATIONS)
    yield Conversations(ConversationStore(pool))
    await pool.close()


@pytest.fixture
def completions_for(conversations: Conversations):
    return lambda inference: ChatCompletions(inference, conversations)


async def events(completions: ChatCompletions, request: ChatRequest) -> list[StreamEvent]:
    return [e async for e in completions.stream(request)]


async def test_role_first_then_deltas_then_finish_then_usage(completions_for) -> None:
    inference = ScriptedInference(
        [step(content="Hel"), step(content="lo"), step(content="!", finish_reason="FINISH_REASON_STOP", usage=USAGE)]
    )
    got = await events(completions_for(inference), chat_request(stream_options={"include_usage": True}))
    kinds = [type(e).__name__ for e in got]
    assert kinds == ["RoleStarted", "Generated", "Generated", "Generated", "ChoiceFinished", "UsageCounted"]
    assert "".join(e.step.content for e in got if isinstance(e, Generated)) == "Hello!"
    assert got[-2] == ChoiceFinished(0, "stop")
    assert isinstance(got[-1], UsageCounted) and got[-1].usage.total_tokens == 7
    assert inference.requests[0].request_id == "chatcmpl-t"


async def test_no_usage_event_unless_asked(completions_for) -> None:
    inference = ScriptedInference([step(content="x", finish_reason="FINISH_REASON_LENGTH", usage=USAGE)])
    got = await events(completions_for(inference), chat_request())
    assert [type(e) for e in got] == [RoleStarted, Generated, ChoiceFinished]
    assert got[-1] == ChoiceFinished(0, "length")


async def test_n_choices_get_a_role_each_deltas_by_index_and_a_finish_each(completions_for) -> None:
    inference = ScriptedInference(
        [
            step(index=0, content="a"),
            step(index=1, content="b"),
            step(index=1, finish_reason="FINISH_REASON_STOP"),
            step(index=0, content="c", finish_reason="FINISH_REASON_LENGTH", usage=USAGE),
        ]
    )
    got = await events(
        completions_for(inference), chat_request(n=2, temperature=1, stream_options={"include_usage": True})
    )
    assert got[:2] == [RoleStarted(0), RoleStarted(1)]
    per_index = {
        i: "".join(e.step.content for e in got if isinstance(e, Generated) and e.step.index == i) for i in (0, 1)
    }
    assert per_index == {0: "ac", 1: "b"}
    assert [e for e in got if isinstance(e, ChoiceFinished)] == [ChoiceFinished(1, "stop"), ChoiceFinished(0, "length")]
    assert sum(isinstance(e, UsageCounted) for e in got) == 1 and isinstance(got[-1], UsageCounted)


async def test_a_step_with_only_a_finish_emits_no_empty_delta(completions_for) -> None:
    inference = ScriptedInference([step(content="x"), step(finish_reason="FINISH_REASON_STOP")])
    got = await events(completions_for(inference), chat_request())
    assert [type(e) for e in got] == [RoleStarted, Generated, ChoiceFinished]


async def test_failure_before_the_first_step_raises(completions_for) -> None:
    inference = ScriptedInference([step(content="x")], fail=InvalidArgument("bad", param="messages"), fail_after=0)
    with pytest.raises(InvalidArgument) as raised:
        await events(completions_for(inference), chat_request())
    assert raised.value.param == "messages"


async def test_failure_after_the_first_step_is_an_in_band_error_and_the_end(completions_for) -> None:
    inference = ScriptedInference(
        [step(content="a"), step(content="b")], fail=Unavailable("the engine died"), fail_after=1
    )
    got = await events(completions_for(inference), chat_request())
    assert [type(e) for e in got] == [RoleStarted, Generated, StreamFailed]
    assert got[-1].error.message == "the engine died"
    assert inference.closed


async def test_parallel_tool_calls_false_keeps_the_first_call_only(completions_for) -> None:
    calls = [
        {"index": 0, "id": "c0", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        {"index": 1, "id": "c1", "type": "function", "function": {"name": "g", "arguments": "{}"}},
    ]
    streamed = ScriptedInference(
        [step(tool_calls=calls[:1]), step(tool_calls=calls[1:]), step(finish_reason="FINISH_REASON_TOOL_CALLS")]
    )
    got = await events(completions_for(streamed), chat_request(parallel_tool_calls=False))
    pieces = [p for e in got if isinstance(e, Generated) for p in e.step.tool_calls]
    assert [p.id for p in pieces] == ["c0"]
    assert streamed.requests[0].parallel_tool_calls is False

    whole = ScriptedInference([step(tool_calls=calls, finish_reason="FINISH_REASON_TOOL_CALLS", usage=USAGE)])
    completion = await completions_for(whole).complete(chat_request(stream=False, parallel_tool_calls=False), "c")
    assert [c.id for c in completion.answers[0].tool_calls] == ["c0"]


async def test_whole_completion_keeps_answers_and_usage(completions_for) -> None:
    inference = ScriptedInference(
        [step(content="a", finish_reason="FINISH_REASON_STOP", usage=USAGE), step(index=1, content="b")]
    )
    completion = await completions_for(inference).complete(chat_request(stream=False, n=2, temperature=1), "chatcmpl-x")
    assert completion.id == "chatcmpl-x" and completion.model == "m"
    assert [a.content for a in completion.answers] == ["a", "b"]
    assert completion.usage is not None and completion.usage.total_tokens == 7


async def test_models_are_cached_and_unknown_ones_are_not_found(completions_for) -> None:
    inference = ScriptedInference([])
    completions = completions_for(inference)
    assert [m.id for m in await completions.models()] == ["m"]
    assert (await completions.model("m")).max_model_len == 1024
    with pytest.raises(NotFound) as raised:
        await completions.model("nope")
    assert raised.value.param == "model" and raised.value.code == "model_not_found"


# -- stored conversations ---------------------------------------------------------------------------------

ALICE = Owner("user_alice", None)


class BlockingInference(ScriptedInference):
    """Sends its steps, then waits forever: a stream the client will leave."""

    def __init__(self, steps: list[inference_pb.GenerateResponse]) -> None:
        super().__init__(steps)
        self.waiting = asyncio.Event()

    async def generate(self, request: inference_pb.GenerateRequest) -> AsyncIterator[inference_pb.GenerateResponse]:
        self.requests.append(request)
        for s in self.steps:
            yield s
        self.waiting.set()
        await asyncio.Event().wait()
        yield s  # never reached


async def listed(conversations: Conversations, conversation_id: str) -> list[dict]:
    page = await conversations.list_items(ALICE, conversation_id, 100, "", "asc", [])
    return [{"type": i.type, **i.body} for i in page.data]


async def test_a_stored_stream_records_input_and_answer_once_complete(completions_for, conversations) -> None:
    inference = ScriptedInference(
        [step(reasoning_content="hm"), step(content="Hi"), step(content="!", finish_reason="FINISH_REASON_STOP")]
    )
    completions = completions_for(inference)
    request = await completions.with_conversation(chat_request(store=True), ALICE)
    assert request.conversation_id is not None and request.conversation_id.startswith("conv_")
    await events(completions, request)
    stored = await listed(conversations, request.conversation_id)
    assert [(i["type"], i.get("role"), i["status"]) for i in stored] == [
        ("message", "user", "completed"),
        ("reasoning", None, "completed"),
        ("message", "assistant", "completed"),
    ]
    assert stored[2]["content"][0]["text"] == "Hi!" and stored[1]["content"][0]["text"] == "hm"
    assert (await conversations.get(ALICE, request.conversation_id)).title == "hi"


async def test_a_conversation_is_replayed_before_the_new_turn(completions_for, conversations) -> None:
    conversation = await conversations.create(
        ALICE,
        {},
        [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
        ],
    )
    inference = ScriptedInference([step(content="second answer", finish_reason="FINISH_REASON_STOP", usage=USAGE)])
    completions = completions_for(inference)
    request = await completions.with_conversation(
        chat_request(
            stream=False,
            store=True,
            conversation=conversation.id,
            messages=[{"role": "user", "content": "second question"}],
        ),
        ALICE,
    )
    await completions.complete(request, "chatcmpl-h")
    sent = inference.requests[0]
    assert [(m.role, m.content.string_value) for m in sent.messages] == [
        ("system", "be brief"),
        ("user", "first question"),
        ("assistant", "first answer"),
        ("user", "second question"),
    ]
    assert sent.truncatable_messages == 3
    stored = await listed(conversations, conversation.id)
    assert [i["content"][0]["text"] for i in stored][-2:] == ["second question", "second answer"]


async def test_a_stream_the_client_leaves_is_stored_incomplete(completions_for, conversations) -> None:
    inference = BlockingInference([step(content="Half an")])
    completions = completions_for(inference)
    request = await completions.with_conversation(chat_request(store=True), ALICE)

    async def consume() -> None:
        async for _ in completions.stream(request):
            pass

    task = asyncio.create_task(consume())
    await inference.waiting.wait()
    task.cancel()  # what gRPC does when the client goes away
    with pytest.raises(asyncio.CancelledError):
        await task
    await completions.drain()
    stored = await listed(conversations, request.conversation_id)
    assert [(i.get("role"), i["status"]) for i in stored] == [("user", "completed"), ("assistant", "incomplete")]
    assert stored[1]["content"][0]["text"] == "Half an"


async def test_a_stream_that_fails_is_stored_incomplete(completions_for, conversations) -> None:
    inference = ScriptedInference([step(content="Part")], fail=Unavailable("engine died"), fail_after=1)
    completions = completions_for(inference)
    request = await completions.with_conversation(chat_request(store=True), ALICE)
    got = await events(completions, request)
    assert isinstance(got[-1], StreamFailed)
    stored = await listed(conversations, request.conversation_id)
    assert [(i.get("role"), i["status"]) for i in stored] == [("user", "completed"), ("assistant", "incomplete")]


async def test_another_callers_conversation_is_not_found(completions_for, conversations) -> None:
    conversation = await conversations.create(ALICE, {}, [{"role": "user", "content": "mine"}])
    completions = completions_for(ScriptedInference([]))
    for owner in (Owner("user_bob"), Owner("user_alice", "proj_other")):
        with pytest.raises(NotFound):
            await completions.with_conversation(chat_request(conversation=conversation.id), owner)
    with pytest.raises(Unauthenticated):
        await completions.with_conversation(chat_request(store=True), None)
