"""ResponsesService over real gRPC in this process (ChatApp on port 0, the inference service's instant engine,
a fresh PostgreSQL database), with the generated stubs: the JSON Response and every event validated against
OpenAI's document, the typed native stream carrying the same events, replay of a stored response equal to
its live stream, previous_response_id and conversation state, store false, input item pages, and the
background queue (claimed once across replicas, cancelled, failed when its runner stops)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import grpc
import pytest
from google.protobuf import json_format

from jan.v1 import chat_service_pb2 as chat_pb
from jan.v1 import chat_service_pb2_grpc, responses_service_pb2_grpc
from jan.v1 import responses_service_pb2 as pb
from services.chat.store import ResponseStore
from tests.chat.test_servicer import openai_error
from tests.support.identity import identity_metadata
from tests.support.in_process import IDENTITY_SECRET, INSTANT_MODEL, chat_service, instant_inference
from tests.support.openai_spec import assert_matches, assert_route, component

TOKENS = 4
ALICE = "user_alice"
BOB = "user_bob"


def who(user_id: str) -> tuple[tuple[str, str], ...]:
    """Signed identity for a call now (a signature expires about a minute after it is made)."""
    return identity_metadata(IDENTITY_SECRET, user_id)


@dataclass
class Stubs:
    responses: responses_service_pb2_grpc.ResponsesServiceStub
    chat: chat_service_pb2_grpc.ChatServiceStub
    database_url: str


@pytest.fixture
async def stubs(database_factory) -> AsyncIterator[Stubs]:
    url = database_factory("responses")
    async with instant_inference(TOKENS) as (_, inference_channel), chat_service(url, inference_channel) as channel:
        yield Stubs(
            responses_service_pb2_grpc.ResponsesServiceStub(channel),
            chat_service_pb2_grpc.ChatServiceStub(channel),
            url,
        )


def params(**fields: object) -> pb.ResponseParams:
    body = {"model": INSTANT_MODEL, "input": "hi", **fields}
    return json_format.ParseDict(body, pb.ResponseParams())


async def create(stubs: Stubs, caller=ALICE, **fields: object) -> dict:
    body = await stubs.responses.CreateResponse(pb.CreateResponseRequest(params=params(**fields)), metadata=who(caller))
    assert body.content_type == "application/json"
    response = json.loads(body.data)
    assert_route("POST", "/v1/responses", response)
    return response


def sse_events(chunks: list) -> list[dict]:
    """The events of an SSE body stream: `event: <type>` then `data: <json>`, the names matching."""
    events = []
    for chunk in chunks:
        assert chunk.content_type == "text/event-stream"
        head, data = chunk.data.decode().removesuffix("\n\n").split("\n", 1)
        event = json.loads(data.removeprefix("data: "))
        assert head == f"event: {event['type']}"
        assert_route("POST", "/v1/responses", event, "text/event-stream")
        events.append(event)
    return events


async def stream(stubs: Stubs, caller=ALICE, **fields: object) -> list[dict]:
    call = stubs.responses.StreamResponse(pb.StreamResponseRequest(params=params(**fields)), metadata=who(caller))
    return sse_events([chunk async for chunk in call])


async def test_create_answers_a_response_that_retrieve_returns(stubs: Stubs) -> None:
    response = await create(stubs, instructions="Be brief.", metadata={"topic": "demo"}, max_output_tokens=3)
    assert response["status"] == "incomplete" and response["incomplete_details"] == {"reason": "max_output_tokens"}
    (message,) = response["output"]
    assert message["type"] == "message" and message["content"][0]["text"] == "tok " * 3
    assert response["usage"]["output_tokens"] == 3 and response["instructions"] == "Be brief."
    assert response["metadata"] == {"topic": "demo"}
    got = await stubs.responses.GetResponse(pb.GetResponseRequest(response_id=response["id"]), metadata=who(ALICE))
    assert json.loads(got.data) == response
    with pytest.raises(grpc.aio.AioRpcError) as other:
        await stubs.responses.GetResponse(pb.GetResponseRequest(response_id=response["id"]), metadata=who(BOB))
    assert other.value.code() == grpc.StatusCode.NOT_FOUND


async def test_the_stream_is_the_full_event_sequence_and_replays_alike(stubs: Stubs) -> None:
    events = await stream(stubs)
    kinds = [e["type"] for e in events]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * TOKENS,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    final = events[-1]["response"]
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert final["output"][0]["content"][0]["text"] == deltas == "tok " * TOKENS
    stored = await stubs.responses.GetResponse(pb.GetResponseRequest(response_id=final["id"]), metadata=who(ALICE))
    assert json.loads(stored.data) == final
    replayed = stubs.responses.StreamStoredResponse(
        pb.StreamStoredResponseRequest(response_id=final["id"], starting_after=3), metadata=who(ALICE)
    )
    again = sse_events([chunk async for chunk in replayed])
    assert again[0]["sequence_number"] == 4 and again[-1]["response"] == final
    assert "".join(e.get("delta", "") for e in again) == deltas  # one delta per text when replayed


async def test_native_typed_events_carry_the_same_fields(stubs: Stubs) -> None:
    call = stubs.responses.StreamResponseEvents(pb.StreamResponseEventsRequest(params=params()), metadata=who(ALICE))
    typed = [event async for event in call]
    for event in typed:
        whole = json_format.MessageToDict(event.event)
        assert whole["type"] == event.type and whole["sequence_number"] == event.sequence_number
        if "output_index" in whole:
            assert event.HasField("output_index") and event.output_index == whole["output_index"]
        if "delta" in whole:
            assert event.delta == whole["delta"]
    assert [e.type for e in typed][-1] == "response.completed"
    assert "".join(e.delta for e in typed) == "tok " * TOKENS


async def test_previous_response_id_replays_the_chain_scoped_to_its_owner(stubs: Stubs) -> None:
    first = await create(stubs, input="My name is Ada.")
    alone = await create(stubs, input="What is my name?")
    second = await create(stubs, input="What is my name?", previous_response_id=first["id"])
    assert second["previous_response_id"] == first["id"]
    assert second["usage"]["input_tokens"] > alone["usage"]["input_tokens"]  # the earlier turn was sent
    third = await create(stubs, input="Again?", previous_response_id=second["id"])
    assert third["usage"]["input_tokens"] > second["usage"]["input_tokens"]
    with pytest.raises(grpc.aio.AioRpcError) as other:
        await create(stubs, caller=BOB, input="x", previous_response_id=first["id"])
    assert other.value.code() == grpc.StatusCode.NOT_FOUND
    assert openai_error(other.value)["param"] == "previous_response_id"


async def test_conversation_prepends_its_items_and_gets_the_turn(stubs: Stubs) -> None:
    conversation = await stubs.chat.CreateConversation(chat_pb.CreateConversationRequest(), metadata=who(ALICE))
    response = await create(stubs, input="Hello there", conversation=conversation.id)
    assert response["conversation"] == {"id": conversation.id}
    items = await stubs.chat.ListConversationItems(
        chat_pb.ListConversationItemsRequest(conversation_id=conversation.id, order="asc"), metadata=who(ALICE)
    )
    shapes = [(i["type"], i.get("role")) for i in (json_format.MessageToDict(s) for s in items.data)]
    assert shapes == [("message", "user"), ("message", "assistant")]
    follow = await create(stubs, input="And now?", conversation={"id": conversation.id})
    assert follow["usage"]["input_tokens"] > response["usage"]["input_tokens"]
    with pytest.raises(grpc.aio.AioRpcError) as both:
        await create(stubs, input="x", conversation=conversation.id, previous_response_id=response["id"])
    assert both.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as other:
        await create(stubs, caller=BOB, input="x", conversation=conversation.id)
    assert other.value.code() == grpc.StatusCode.NOT_FOUND


async def test_store_false_keeps_nothing(stubs: Stubs) -> None:
    response = await create(stubs, store=False)
    assert response["store"] is False and response["status"] == "completed"
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stubs.responses.GetResponse(pb.GetResponseRequest(response_id=response["id"]), metadata=who(ALICE))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    events = await stream(stubs, store=False)
    with pytest.raises(grpc.aio.AioRpcError):
        await stubs.responses.GetResponse(
            pb.GetResponseRequest(response_id=events[-1]["response"]["id"]), metadata=who(ALICE)
        )


async def test_input_items_page_both_ways_and_delete(stubs: Stubs) -> None:
    given = [{"type": "message", "role": "user", "content": f"part {n}"} for n in range(5)]
    response = await create(stubs, input=given)

    async def page(**fields: object) -> dict:
        request = pb.ListResponseInputItemsRequest(response_id=response["id"], **fields)
        listed = await stubs.responses.ListResponseInputItems(request, metadata=who(ALICE))
        body = json_format.MessageToDict(
            listed, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
        assert_route("GET", f"/v1/responses/{response['id']}/input_items", body)
        return body

    newest = await page(limit=2)
    assert [i["content"][0]["text"] for i in newest["data"]] == ["part 4", "part 3"] and newest["has_more"]
    rest = await page(limit=10, after=newest["last_id"])
    assert [i["content"][0]["text"] for i in rest["data"]] == ["part 2", "part 1", "part 0"]
    assert rest["has_more"] is False
    oldest = await page(order="asc", limit=1)
    assert oldest["data"][0]["content"][0]["text"] == "part 0"
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await page(after="msg_nope")
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    delete = pb.DeleteResponseRequest(response_id=response["id"])
    with pytest.raises(grpc.aio.AioRpcError) as other:
        await stubs.responses.DeleteResponse(delete, metadata=who(BOB))
    assert other.value.code() == grpc.StatusCode.NOT_FOUND
    deleted = await stubs.responses.DeleteResponse(delete, metadata=who(ALICE))
    assert (deleted.id, deleted.object, deleted.deleted) == (response["id"], "response.deleted", True)
    for call in (
        stubs.responses.GetResponse(pb.GetResponseRequest(response_id=response["id"]), metadata=who(ALICE)),
        stubs.responses.ListResponseInputItems(
            pb.ListResponseInputItemsRequest(response_id=response["id"]), metadata=who(ALICE)
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as gone:
            await call
        assert gone.value.code() == grpc.StatusCode.NOT_FOUND


# -- background -------------------------------------------------------------------------------------------


async def wait_for_status(stubs: Stubs, response_id: str, wanted: tuple[str, ...], seconds: float = 10) -> dict:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        got = await stubs.responses.GetResponse(pb.GetResponseRequest(response_id=response_id), metadata=who(ALICE))
        response = json.loads(got.data)
        if response["status"] in wanted or asyncio.get_running_loop().time() > deadline:
            return response
        await asyncio.sleep(0.05)


async def test_a_background_response_is_queued_run_and_followed(stubs: Stubs) -> None:
    queued = await create(stubs, background=True)
    assert queued["status"] == "queued" and queued["background"] is True
    follow = stubs.responses.StreamStoredResponse(
        pb.StreamStoredResponseRequest(response_id=queued["id"]), metadata=who(ALICE)
    )
    events = sse_events([chunk async for chunk in follow])
    kinds = [e["type"] for e in events]
    assert kinds[:3] == ["response.created", "response.queued", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    done = await wait_for_status(stubs, queued["id"], ("completed",))
    assert done == events[-1]["response"] and done["output"][0]["content"][0]["text"] == "tok " * TOKENS
    streamed = await stream(stubs, background=True)  # stream=true with background: the same log, followed
    assert [e["type"] for e in streamed][:3] == kinds[:3] and streamed[-1]["type"] == "response.completed"


async def test_background_needs_store(stubs: Stubs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await create(stubs, background=True, store=False)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert openai_error(refused.value)["param"] == "background"


async def test_any_replica_runs_what_another_queued(database_factory) -> None:
    url = database_factory("replicas")
    async with (
        instant_inference(TOKENS) as (_, inference_channel),
        chat_service(url, inference_channel, JAN_RESPONSES_BACKGROUND_RUNNER=False) as front,
        chat_service(url, inference_channel) as worker,
    ):
        stubs = Stubs(
            responses_service_pb2_grpc.ResponsesServiceStub(front), chat_service_pb2_grpc.ChatServiceStub(front), url
        )
        ids = [(await create(stubs, background=True))["id"] for _ in range(6)]
        for response_id in ids:
            assert (await wait_for_status(stubs, response_id, ("completed",)))["status"] == "completed"
        pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
        try:
            rows = await pool.fetch(
                "SELECT r.id, r.worker, count(*) FILTER (WHERE e.event->>'type' = 'response.in_progress') AS starts,"
                " count(*) AS events, count(DISTINCT e.sequence_number) AS numbers"
                " FROM chat.responses r JOIN chat.response_events e ON e.response_id = r.id GROUP BY r.id, r.worker"
            )
        finally:
            await pool.close()
        assert {r["id"] for r in rows} == set(ids)
        odd = [dict(r) for r in rows if not (r["starts"] == 1 and r["events"] == r["numbers"])]
        assert not odd, odd  # each ran once
        assert len({r["worker"] for r in rows}) == 1  # the one replica that takes work
        del worker


async def test_a_response_whose_runner_stopped_is_failed(database_factory) -> None:
    url = database_factory("stale")
    async with (
        instant_inference(TOKENS) as (_, inference_channel),
        chat_service(url, inference_channel, JAN_RESPONSES_BACKGROUND_RUNNER=False) as front,
    ):
        stubs = Stubs(
            responses_service_pb2_grpc.ResponsesServiceStub(front), chat_service_pb2_grpc.ChatServiceStub(front), url
        )
        queued = await create(stubs, background=True)
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:  # a replica took it and died at once
            await pool.execute(
                "UPDATE chat.responses SET status = 'in_progress', worker = 'ghost', heartbeat_at = now()"
                " WHERE id = $1",
                queued["id"],
            )
            assert await ResponseStore(pool).heartbeat(queued["id"], "ghost") is False
        finally:
            await pool.close()
        async with chat_service(url, inference_channel, JAN_RESPONSES_STALE_SECONDS=2):
            failed = await wait_for_status(stubs, queued["id"], ("failed",), seconds=6)
        assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"
        follow = stubs.responses.StreamStoredResponse(
            pb.StreamStoredResponseRequest(response_id=queued["id"]), metadata=who(ALICE)
        )
        events = sse_events([chunk async for chunk in follow])
        assert [e["type"] for e in events] == ["response.created", "response.queued", "response.failed"]
        assert events[-1]["response"]["status"] == "failed"
        assert_matches(component("ResponseFailedEvent"), events[-1], "response.failed")


async def test_cancel_of_a_queued_response_and_of_a_foreground_one(database_factory) -> None:
    url = database_factory("cancel")
    async with (
        instant_inference(TOKENS) as (_, inference_channel),
        chat_service(url, inference_channel, JAN_RESPONSES_BACKGROUND_RUNNER=False) as front,
    ):
        stubs = Stubs(
            responses_service_pb2_grpc.ResponsesServiceStub(front), chat_service_pb2_grpc.ChatServiceStub(front), url
        )
        queued = await create(stubs, background=True)
        cancel = pb.CancelResponseRequest(response_id=queued["id"])
        cancelled = json.loads((await stubs.responses.CancelResponse(cancel, metadata=who(ALICE))).data)
        assert cancelled["status"] == "cancelled"
        assert_route("POST", f"/v1/responses/{queued['id']}/cancel", cancelled)
        with pytest.raises(grpc.aio.AioRpcError) as other:
            await stubs.responses.CancelResponse(cancel, metadata=who(BOB))
        assert other.value.code() == grpc.StatusCode.NOT_FOUND
        foreground = await create(stubs)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stubs.responses.CancelResponse(
                pb.CancelResponseRequest(response_id=foreground["id"]), metadata=who(ALICE)
            )
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
