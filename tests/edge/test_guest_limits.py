"""The limits on what one caller may ask for, through the real Envoy, on a stack of their own (the instant
engine, so it starts in seconds) with small limits: guests' requests per minute (ext_authz), output tokens per
request (n × max_tokens; guests less), the size of a stored item and the items of a conversation (guests
fewer). Each refusal in OpenAI's error shape (the SDK's errors, raw bodies checked against OpenAI's document)
and as native gRPC statuses. Guests tell themselves apart by `x-jan-guest`, signed by auth like all identity."""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc
import openai
import pytest
from google.protobuf import json_format, struct_pb2

from devstack.stack import Stack
from jan.v1 import chat_service_pb2 as pb
from jan.v1 import chat_service_pb2_grpc
from services.common.errors import ERROR_METADATA_KEY
from tests.auth.conftest import Rest
from tests.conftest import guest_login
from tests.support.openai_spec import assert_error
from tests.support.private_stack import instant_stack

GUEST_RPM = 6
GUEST_TOKENS = 64
USER_TOKENS = 256
ITEM_BYTES = 4096
GUEST_ITEMS = 4
USER_ITEMS = 8
MODEL = "instant"


@pytest.fixture(scope="module")
def limited_stack(tmp_path_factory, database_factory, stack_env: dict[str, str]) -> Iterator[Stack]:
    env = {
        **stack_env,
        "JAN_INSTANT_TOKENS": "1000",  # more than any limit: what bounds an answer is the limit
        "JAN_GUEST_REQUESTS_PER_MINUTE": str(GUEST_RPM),
        "JAN_GUEST_MAX_OUTPUT_TOKENS": str(GUEST_TOKENS),
        "JAN_MAX_OUTPUT_TOKENS_PER_REQUEST": str(USER_TOKENS),
        "JAN_MAX_ITEM_BYTES": str(ITEM_BYTES),
        "JAN_GUEST_MAX_CONVERSATION_ITEMS": str(GUEST_ITEMS),
        "JAN_MAX_CONVERSATION_ITEMS": str(USER_ITEMS),
    }
    run_dir = tmp_path_factory.mktemp("guest-limits-stack")
    with instant_stack(run_dir, database_factory("jan_guest_limits"), env, model=MODEL) as stack:
        yield stack


@pytest.fixture(scope="module")
def rest(limited_stack: Stack) -> Rest:
    return Rest(limited_stack)


def sdk(stack: Stack, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.http_url}/v1", api_key=token, max_retries=0, timeout=30)


def ask(client: openai.OpenAI, **fields: object) -> openai.types.chat.ChatCompletion:
    return client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], **fields)


def error_of(raised: pytest.ExceptionInfo) -> dict:
    body = raised.value.response.json()
    assert_error(body)
    return body["error"]


def grpc_error(raised: pytest.ExceptionInfo) -> dict:
    return json.loads(dict(raised.value.trailing_metadata())[ERROR_METADATA_KEY])["error"]


# -- requests per minute ------------------------------------------------------------------------------------


def test_a_guest_over_its_request_limit_gets_a_rate_limit_error_saying_signing_up_lifts_it(
    limited_stack: Stack, rest: Rest
) -> None:
    token = guest_login(limited_stack)
    guest = sdk(limited_stack, token)
    for _ in range(GUEST_RPM):
        guest.models.list()
    with pytest.raises(openai.RateLimitError) as raised:
        ask(guest)
    error = error_of(raised)
    assert error["code"] == "rate_limit_exceeded" and error["type"] == "rate_limit_error"
    assert f"{GUEST_RPM} requests per minute for guest accounts (sign up to lift it)" in error["message"]
    headers = raised.value.response.headers
    assert headers["x-ratelimit-limit-requests"] == str(GUEST_RPM) and int(headers["retry-after"]) >= 1
    assert ask(sdk(limited_stack, guest_login(limited_stack)), max_tokens=1)  # another guest: a budget of its own
    # Signing up is never refused, and lifts the limit (registered users have none on this stack).
    registered = rest.register(token=token)
    assert registered["user"]["is_guest"] is False
    user = sdk(limited_stack, registered["access_token"])
    for _ in range(GUEST_RPM + 2):
        user.models.list()


async def test_native_grpc_guests_are_limited_too(limited_stack: Stack) -> None:
    metadata = (("authorization", f"Bearer {guest_login(limited_stack)}"),)
    async with grpc.aio.insecure_channel(limited_stack.grpc_target) as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)
        for _ in range(GUEST_RPM):
            await stub.ListModels(pb.ListModelsRequest(), metadata=metadata, timeout=10)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.ListModels(pb.ListModelsRequest(), metadata=metadata, timeout=10)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "guest accounts" in raised.value.details()


# -- output tokens per request ------------------------------------------------------------------------------


def test_a_guests_request_over_its_output_limit_is_a_400_naming_the_field(limited_stack: Stack) -> None:
    guest = sdk(limited_stack, guest_login(limited_stack))
    cases = [
        ({"max_tokens": GUEST_TOKENS + 1}, "max_tokens"),
        ({"max_tokens": 40, "n": 2, "temperature": 1}, "max_tokens"),
        ({"max_completion_tokens": 100}, "max_completion_tokens"),
        ({"n": GUEST_TOKENS + 1, "temperature": 1}, "n"),
    ]
    for fields, param in cases:
        with pytest.raises(openai.BadRequestError) as raised:
            ask(guest, **fields)
        error = error_of(raised)
        assert error["param"] == param and error["type"] == "invalid_request_error", fields
        assert f"at most {GUEST_TOKENS}" in error["message"] and "guest accounts" in error["message"]
        assert "Sign up" in error["message"]
    # Without max_tokens an answer stops at the limit (each of n answers at its share).
    (choice,) = ask(guest).choices
    assert choice.finish_reason == "length"
    two = ask(sdk(limited_stack, guest_login(limited_stack)), n=2, temperature=1)
    assert two.usage is not None and two.usage.completion_tokens == GUEST_TOKENS  # 2 × 32


def test_a_registered_users_limit_is_higher_and_says_nothing_of_signing_up(limited_stack: Stack, rest: Rest) -> None:
    user = sdk(limited_stack, rest.register()["access_token"])
    whole = ask(user, max_tokens=GUEST_TOKENS * 2)
    assert whole.usage is not None and whole.usage.completion_tokens == GUEST_TOKENS * 2
    assert ask(user).usage.completion_tokens == USER_TOKENS  # type: ignore[union-attr]
    with pytest.raises(openai.BadRequestError) as raised:
        ask(user, max_tokens=USER_TOKENS + 1, stream=True)
    error = error_of(raised)
    assert error["param"] == "max_tokens" and f"at most {USER_TOKENS}" in error["message"]
    assert "guest" not in error["message"] and "Sign up" not in error["message"]


async def test_native_grpc_over_the_output_limit_is_invalid_argument(limited_stack: Stack) -> None:
    metadata = (("authorization", f"Bearer {guest_login(limited_stack)}"),)
    params = json_format.ParseDict(
        {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": GUEST_TOKENS + 1},
        pb.ChatCompletionParams(),
    )
    async with grpc.aio.insecure_channel(limited_stack.grpc_target) as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)
        request = pb.CreateChatCompletionRequest(params=params)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.CreateChatCompletion(request, metadata=metadata, timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert grpc_error(raised)["param"] == "max_tokens"


# -- stored items and conversations -------------------------------------------------------------------------


def message(text: str) -> dict:
    return {"type": "message", "role": "user", "content": text}


def test_an_item_over_the_size_limit_is_a_400_naming_it(limited_stack: Stack, rest: Rest) -> None:
    token = rest.register()["access_token"]
    response = rest("POST", "/v1/conversations", {"items": [message("small"), message("x" * ITEM_BYTES)]}, token=token)
    assert response.status == 400
    body = response.json()
    assert_error(body)
    assert body["error"]["param"] == "items[1]" and f"at most {ITEM_BYTES} bytes" in body["error"]["message"]
    created = rest("POST", "/v1/conversations", {"items": [message("x" * (ITEM_BYTES - 200))]}, token=token)
    assert created.status == 200, created.body
    stored_completion = {
        "model": MODEL,
        "store": True,
        "conversation": created.json()["id"],
        "messages": [{"role": "user", "content": "y" * ITEM_BYTES}],
    }
    response = rest("POST", "/v1/chat/completions", stored_completion, token=token)
    assert response.status == 400 and response.json()["error"]["param"] == "messages"


def test_a_full_conversation_refuses_more_items_and_guests_get_fewer(limited_stack: Stack, rest: Rest) -> None:
    guest = guest_login(limited_stack)
    conversation = rest("POST", "/v1/conversations", {"items": [message("q")] * GUEST_ITEMS}, token=guest).json()
    path = f"/v1/conversations/{conversation['id']}/items"
    response = rest("POST", path, {"items": [message("one more")]}, token=guest)
    assert response.status == 400
    error = response.json()
    assert_error(error)
    assert error["error"]["code"] == "conversation_full" and error["error"]["param"] == "items"
    assert error["error"]["message"].startswith(f"conversation is full: it may hold at most {GUEST_ITEMS} items for")
    # A stored completion into it is refused before anything is generated.
    turn = {"model": MODEL, "store": True, "conversation": conversation["id"], "messages": [message("q")]}
    response = rest("POST", "/v1/chat/completions", turn, token=guest)
    assert response.status == 400 and response.json()["error"]["code"] == "conversation_full"
    # Deleting an item makes room.
    first = rest("GET", path + "?order=asc&limit=1", token=guest).json()["data"][0]["id"]
    assert rest("DELETE", f"{path}/{first}", token=guest).status == 200
    assert rest("POST", path, {"items": [message("room again")]}, token=guest).status == 200
    # A registered user's conversations hold more.
    user = rest.register()["access_token"]
    theirs = rest("POST", "/v1/conversations", {"items": [message("q")] * GUEST_ITEMS}, token=user).json()
    path = f"/v1/conversations/{theirs['id']}/items"
    assert rest("POST", path, {"items": [message("q")] * (USER_ITEMS - GUEST_ITEMS)}, token=user).status == 200
    again = rest("POST", path, {"items": [message("q")]}, token=user)
    assert again.status == 400 and f"at most {USER_ITEMS} items." in again.json()["error"]["message"]


async def test_native_grpc_conversation_full_is_invalid_argument(limited_stack: Stack) -> None:
    metadata = (("authorization", f"Bearer {guest_login(limited_stack)}"),)
    item = struct_pb2.Struct()
    item.update(message("q"))
    async with grpc.aio.insecure_channel(limited_stack.grpc_target) as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)
        conversation = await stub.CreateConversation(
            pb.CreateConversationRequest(items=[item] * GUEST_ITEMS), metadata=metadata, timeout=10
        )
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.CreateConversationItems(
                pb.CreateConversationItemsRequest(conversation_id=conversation.id, items=[item]),
                metadata=metadata,
                timeout=10,
            )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert grpc_error(raised)["code"] == "conversation_full"
