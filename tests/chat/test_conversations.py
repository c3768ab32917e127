"""Stored conversations through Envoy with the official OpenAI SDK (`client.conversations`, unmodified) and
native gRPC, against the real chat service and PostgreSQL: OpenAI's Conversations API (string or parts
content, function calls and outputs, reasoning, pagination, include), Jan's list and title, bad input, and
isolation between users. Raw bodies are checked against OpenAI's document in tests/edge/test_openai_spec.py."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import grpc
import openai
import pytest
from google.protobuf import json_format, struct_pb2

from devstack.stack import Stack
from jan.v1 import chat_service_pb2 as pb
from jan.v1 import chat_service_pb2_grpc
from tests.conftest import STACK_IDENTITY_SECRET, guest_login
from tests.support.identity import identity_metadata


class User:
    """A guest with an SDK client and a raw HTTP helper."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.token = guest_login(stack)
        self.client = openai.OpenAI(base_url=f"{stack.http_url}/v1", api_key=self.token, max_retries=0, timeout=60)

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        headers = {"content-type": "application/json", "authorization": f"Bearer {self.token}"}
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.stack.http_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())


@pytest.fixture
def alice(stack: Stack) -> User:
    return User(stack)


@pytest.fixture
def bob(stack: Stack) -> User:
    return User(stack)


MESSAGE = {"type": "message", "role": "user", "content": "Hello!"}


def test_sdk_create_with_string_content_retrieve_update_delete(alice: User) -> None:
    client = alice.client
    conversation = client.conversations.create(items=[MESSAGE], metadata={"topic": "demo"})
    assert conversation.object == "conversation" and conversation.id.startswith("conv_")
    assert conversation.metadata == {"topic": "demo"} and isinstance(conversation.created_at, int)
    assert conversation.model_extra["title"] == "Hello!"
    assert client.conversations.retrieve(conversation.id) == conversation

    updated = client.conversations.update(conversation.id, metadata={"topic": "changed"})
    assert updated.metadata == {"topic": "changed"} and updated.id == conversation.id
    deleted = client.conversations.delete(conversation.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (conversation.id, "conversation.deleted", True)
    with pytest.raises(openai.NotFoundError) as raised:
        client.conversations.retrieve(conversation.id)
    assert raised.value.body["param"] == "conversation_id"


def test_sdk_items_create_list_retrieve_delete_in_order(alice: User) -> None:
    client = alice.client
    conversation = client.conversations.create(items=[MESSAGE])
    added = client.conversations.items.create(
        conversation.id,
        items=[
            {"type": "message", "role": "assistant", "content": "Hi, how can I help?"},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris"}'},
            {"type": "function_call_output", "call_id": "call_1", "output": '{"temperature": 21}'},
            {"type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": "It is warm."}]},
        ],
    )
    assert [i.type for i in added.data] == ["message", "function_call", "function_call_output", "reasoning"]
    assert added.data[1].name == "get_weather" and added.data[1].id.startswith("fc_")
    assert added.data[0].content[0].type == "output_text" and added.data[0].content[0].text == "Hi, how can I help?"
    assert all(i.status == "completed" for i in added.data)

    everything = list(client.conversations.items.list(conversation.id, order="asc"))
    assert [i.type for i in everything] == ["message", "message", "function_call", "function_call_output", "reasoning"]
    assert everything[0].content[0].type == "input_text" and everything[0].content[0].text == "Hello!"

    page = client.conversations.items.list(conversation.id, limit=2)  # newest first by default
    assert [i.type for i in page.data] == ["reasoning", "function_call_output"] and page.has_more
    rest = client.conversations.items.list(conversation.id, limit=10, after=page.data[-1].id)
    assert [i.type for i in rest.data] == ["function_call", "message", "message"] and not rest.has_more
    paged = list(client.conversations.items.list(conversation.id, limit=2))  # the SDK follows the cursor
    assert [i.id for i in paged] == [i.id for i in reversed(everything)]

    item = client.conversations.items.retrieve(added.data[0].id, conversation_id=conversation.id)
    assert item.id == added.data[0].id and item.role == "assistant"
    listed = client.conversations.items.list(conversation.id, include=["message.output_text.logprobs"])
    assert len(listed.data) == 5
    after_delete = client.conversations.items.delete(added.data[0].id, conversation_id=conversation.id)
    assert after_delete.id == conversation.id and after_delete.object == "conversation"
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(added.data[0].id, conversation_id=conversation.id)


def test_jan_lists_the_callers_conversations_newest_first_with_titles(alice: User) -> None:
    ids = [alice.client.conversations.create(metadata={"n": str(n)}).id for n in range(3)]
    status, page = alice.call("GET", "/v1/conversations?limit=2")
    assert status == 200 and [c["id"] for c in page["data"]] == ids[::-1][:2] and page["has_more"] is True
    _, last = alice.call("GET", f"/v1/conversations?limit=2&after={page['last_id']}")
    assert last["data"][0]["id"] == ids[0]
    status, titled = alice.call("POST", "/v1/conversations", {"title": "Trip plans", "items": [MESSAGE]})
    assert status == 200 and titled["title"] == "Trip plans"
    status, renamed = alice.call("POST", f"/v1/conversations/{titled['id']}", {"metadata": {}, "title": "Holiday"})
    assert status == 200 and renamed["title"] == "Holiday"


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/conversations", {"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ("/v1/conversations", {"items": [{"type": "message", "role": "wizard", "content": "x"}]}, "items[0].role"),
        ("/v1/conversations", {"items": [{"type": "telepathy"}]}, "items[0].type"),
        (
            "/v1/conversations",
            {"items": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
            "items[0].call_id",
        ),
        ("/v1/conversations", {"items": [MESSAGE] * 21}, "items"),
        (
            "/v1/conversations",
            {"items": [{"role": "user", "content": [{"type": "input_image"}]}]},
            "items[0].content[0].type",
        ),
        ("/v1/conversations", {"items": [{"role": "user", "content": {"a": 1}}]}, "items[0].content"),
        ("/v1/conversations?limit=500", None, "limit"),
        ("/v1/conversations?after=conv_nope", None, "after"),
    ],
)
def test_bad_input_is_400_naming_the_field(alice: User, path: str, body: dict | None, param: str) -> None:
    status, error = alice.call("POST" if body is not None else "GET", path, body)
    assert status == 400 and error["error"]["param"] == param, error


def test_bad_item_pages_are_400(alice: User) -> None:
    conversation = alice.client.conversations.create(items=[MESSAGE])
    for query, param in (("limit=0", "limit"), ("limit=101", "limit"), ("order=up", "order"), ("after=msg_x", "after")):
        status, error = alice.call("GET", f"/v1/conversations/{conversation.id}/items?{query}")
        assert status == 400 and error["error"]["param"] == param, (query, error)
    with pytest.raises(openai.BadRequestError):
        alice.client.conversations.items.list(conversation.id, include=["everything"])  # type: ignore[list-item]


def test_another_users_conversation_is_not_found_and_unchanged(alice: User, bob: User) -> None:
    conversation = alice.client.conversations.create(metadata={"owner": "alice"}, items=[MESSAGE])
    item_id = alice.client.conversations.items.list(conversation.id).data[0].id
    base = f"/v1/conversations/{conversation.id}"
    for method, path, body in (
        ("GET", base, None),
        ("POST", base, {"metadata": {"owner": "bob"}}),
        ("DELETE", base, None),
        ("GET", f"{base}/items", None),
        ("POST", f"{base}/items", {"items": [MESSAGE]}),
        ("GET", f"{base}/items/{item_id}", None),
        ("DELETE", f"{base}/items/{item_id}", None),
    ):
        assert bob.call(method, path, body)[0] == 404, (method, path)
    assert conversation.id not in [c["id"] for c in bob.call("GET", "/v1/conversations")[1]["data"]]
    assert alice.client.conversations.retrieve(conversation.id).metadata == {"owner": "alice"}
    assert len(alice.client.conversations.items.list(conversation.id).data) == 1


async def test_native_grpc_through_envoy_and_identity_required_directly(stack: Stack, guest_metadata) -> None:
    item = struct_pb2.Struct()
    item.update(MESSAGE)
    async with grpc.aio.insecure_channel(stack.grpc_target) as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)
        conversation = await stub.CreateConversation(
            pb.CreateConversationRequest(metadata={"via": "grpc"}, items=[item]), metadata=guest_metadata, timeout=10
        )
        fetched = await stub.GetConversation(
            pb.GetConversationRequest(conversation_id=conversation.id), metadata=guest_metadata, timeout=10
        )
        assert fetched == conversation and conversation.object == "conversation" and conversation.title == "Hello!"
        listed = await stub.ListConversationItems(
            pb.ListConversationItemsRequest(conversation_id=conversation.id), metadata=guest_metadata, timeout=10
        )
        (stored,) = [json_format.MessageToDict(s) for s in listed.data]
        assert stored["content"] == [{"type": "input_text", "text": "Hello!"}] and listed.first_id == stored["id"]
    async with grpc.aio.insecure_channel(stack.service_target("chat")) as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.GetConversation(pb.GetConversationRequest(conversation_id=conversation.id), timeout=10)
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_the_chat_services_own_port_needs_signed_identity(stack: Stack) -> None:
    """Around Envoy, identity headers prove nothing unless auth signed them (JAN_IDENTITY_SECRET): a forged
    x-jan-user-id, another key's signature or an expired one is UNAUTHENTICATED; a valid signature works."""
    alice = User(stack)
    conversation = alice.client.conversations.create(items=[MESSAGE])
    status, me = alice.call("GET", "/v1/auth/me")
    assert status == 200
    request = pb.GetConversationRequest(conversation_id=conversation.id)
    async with grpc.aio.insecure_channel(stack.service_target("chat")) as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)
        refused = {
            "forged": (("x-jan-user-id", me["id"]), ("x-jan-key-type", "session"), ("x-jan-org-role", "owner")),
            "another key": identity_metadata("another-identity-secret-0123456789abcdef", me["id"]),
            "expired": identity_metadata(STACK_IDENTITY_SECRET, me["id"], expires_at=int(time.time()) - 1),
        }
        for why, metadata in refused.items():
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await stub.GetConversation(request, metadata=metadata, timeout=10)
            assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED, why
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await stub.ListConversations(pb.ListConversationsRequest(), metadata=metadata, timeout=10)
            assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED, why
        signed = identity_metadata(STACK_IDENTITY_SECRET, me["id"], key_type="session")
        fetched = await stub.GetConversation(request, metadata=signed, timeout=10)
        assert fetched.id == conversation.id
