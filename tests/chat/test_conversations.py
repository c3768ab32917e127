"""Stored conversations through Envoy (REST, OpenAI's Conversations API shape) and native gRPC, against
the real chat service and PostgreSQL: CRUD, items, pagination, validation, and isolation between users."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import grpc
import pytest

from devstack.stack import Stack
from jan.v1 import chat_service_pb2 as pb
from jan.v1 import chat_service_pb2_grpc


class User:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.token = self.call("POST", "/v1/auth/guest-login", {})[1]["access_token"]

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        headers = {"content-type": "application/json"}
        if getattr(self, "token", None):
            headers["authorization"] = f"Bearer {self.token}"
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


MESSAGE = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hello!"}]}


def test_conversation_crud(alice: User) -> None:
    status, conv = alice.call("POST", "/v1/conversations", {"metadata": {"topic": "demo"}, "items": [MESSAGE]})
    assert status == 200 and conv["object"] == "conversation" and conv["id"].startswith("conv_")
    assert conv["metadata"] == {"topic": "demo"} and isinstance(conv["created_at"], int)
    assert alice.call("GET", f"/v1/conversations/{conv['id']}") == (200, conv)

    status, updated = alice.call("POST", f"/v1/conversations/{conv['id']}", {"metadata": {"topic": "changed"}})
    assert status == 200 and updated["metadata"] == {"topic": "changed"}
    status, patched = alice.call("PATCH", f"/v1/conversations/{conv['id']}", {"metadata": {"k": "v"}})
    assert status == 200 and patched["metadata"] == {"k": "v"}

    status, deleted = alice.call("DELETE", f"/v1/conversations/{conv['id']}")
    assert (status, deleted) == (200, {"id": conv["id"], "object": "conversation.deleted", "deleted": True})
    status, error = alice.call("GET", f"/v1/conversations/{conv['id']}")
    assert status == 404 and error["error"]["param"] == "conversation_id"


def test_items_add_list_get_delete_in_order(alice: User) -> None:
    _, conv = alice.call("POST", "/v1/conversations", {"items": [MESSAGE]})
    items = [
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hi, how can I help?"}]},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": '{"temperature": 21}'},
    ]
    status, added = alice.call("POST", f"/v1/conversations/{conv['id']}/items", {"items": items})
    assert status == 200 and added["object"] == "list" and len(added["data"]) == 3
    assert [i["type"] for i in added["data"]] == ["message", "function_call", "function_call_output"]
    assert added["data"][1]["name"] == "get_weather" and added["data"][1]["id"].startswith("fc_")

    _, listed = alice.call("GET", f"/v1/conversations/{conv['id']}/items?order=asc")
    assert [i["type"] for i in listed["data"]] == ["message", "message", "function_call", "function_call_output"]
    assert listed["data"][0]["content"] == [{"type": "input_text", "text": "Hello!"}]
    assert listed["has_more"] is False and listed["first_id"] == listed["data"][0]["id"]

    _, newest_two = alice.call("GET", f"/v1/conversations/{conv['id']}/items?limit=2")
    assert [i["type"] for i in newest_two["data"]] == ["function_call_output", "function_call"]
    assert newest_two["has_more"] is True
    _, rest = alice.call("GET", f"/v1/conversations/{conv['id']}/items?limit=2&after={newest_two['last_id']}")
    assert [i["role"] for i in rest["data"]] == ["assistant", "user"] and rest["has_more"] is False

    item_id = added["data"][0]["id"]
    status, item = alice.call("GET", f"/v1/conversations/{conv['id']}/items/{item_id}")
    assert status == 200 and item["content"][0]["text"] == "Hi, how can I help?"
    status, after_delete = alice.call("DELETE", f"/v1/conversations/{conv['id']}/items/{item_id}")
    assert status == 200 and after_delete["id"] == conv["id"]
    assert alice.call("GET", f"/v1/conversations/{conv['id']}/items/{item_id}")[0] == 404


def test_list_conversations_pages_newest_first(alice: User) -> None:
    ids = [alice.call("POST", "/v1/conversations", {"metadata": {"n": str(n)}})[1]["id"] for n in range(3)]
    _, page = alice.call("GET", "/v1/conversations?limit=2")
    assert [c["id"] for c in page["data"]] == ids[::-1][:2] and page["has_more"] is True
    _, last = alice.call("GET", f"/v1/conversations?limit=2&after={page['last_id']}")
    assert last["data"][0]["id"] == ids[0]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        (
            {"items": [{"type": "message", "role": "wizard", "content": [{"type": "input_text", "text": "x"}]}]},
            "items[0].role",
        ),
        ({"items": [{"type": "telepathy"}]}, "items[0].type"),
        ({"items": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, "items[0].call_id"),
        ({"items": [MESSAGE] * 21}, "items"),
    ],
)
def test_bad_input_is_400_naming_the_field(alice: User, body: dict, param: str) -> None:
    status, error = alice.call("POST", "/v1/conversations", body)
    assert status == 400 and error["error"]["param"] == param


def test_another_users_conversation_is_not_found_and_unchanged(alice: User, bob: User) -> None:
    _, conv = alice.call("POST", "/v1/conversations", {"metadata": {"owner": "alice"}, "items": [MESSAGE]})
    base = f"/v1/conversations/{conv['id']}"
    assert bob.call("GET", base)[0] == 404
    assert bob.call("POST", base, {"metadata": {"owner": "bob"}})[0] == 404
    assert bob.call("DELETE", base)[0] == 404
    assert bob.call("GET", f"{base}/items")[0] == 404
    assert bob.call("POST", f"{base}/items", {"items": [MESSAGE]})[0] == 404
    assert conv["id"] not in [c["id"] for c in bob.call("GET", "/v1/conversations")[1]["data"]]
    assert alice.call("GET", base) == (200, conv)
    assert len(alice.call("GET", f"{base}/items")[1]["data"]) == 1


async def test_native_grpc_through_envoy_and_identity_required_directly(stack: Stack, guest_metadata) -> None:
    async with grpc.aio.insecure_channel(stack.grpc_target) as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)
        conv = await stub.CreateConversation(
            pb.CreateConversationRequest(metadata={"via": "grpc"}), metadata=guest_metadata, timeout=10
        )
        fetched = await stub.GetConversation(
            pb.GetConversationRequest(conversation_id=conv.id), metadata=guest_metadata, timeout=10
        )
        assert fetched == conv and conv.object == "conversation"
    async with grpc.aio.insecure_channel(stack.service_target("chat")) as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.GetConversation(pb.GetConversationRequest(conversation_id=conv.id), timeout=10)
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
