"""Chat completions that store and replay conversations, through Envoy with the official SDK and natively,
on the real engine: `store` writes the turn (a new conversation's id in the x-jan-conversation-id header),
`conversation` replays the stored history so a client sends only the new message, a stream the client
leaves is stored incomplete, and another caller's conversation is not found."""

from __future__ import annotations

import time

import grpc
import httpx
import openai
import pytest
from google.protobuf import json_format

from devstack.stack import Stack
from jan.v1 import chat_service_pb2 as pb
from jan.v1 import chat_service_pb2_grpc
from tests.conftest import TINY_MODEL_NAME, guest_login

MODEL = TINY_MODEL_NAME
NO_THINKING = {"chat_template_kwargs": {"enable_thinking": False}}
HEADER = "x-jan-conversation-id"


@pytest.fixture
def client(stack: Stack) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.http_url}/v1", api_key=guest_login(stack), max_retries=0, timeout=120)


def ask(client: openai.OpenAI, text: str, **kwargs):
    extra = {**NO_THINKING, **kwargs.pop("extra_body", {})}
    kwargs.setdefault("temperature", 0)
    return client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=[{"role": "user", "content": text}],
        max_tokens=4,
        extra_body=extra,
        **kwargs,
    )


def turn_shape(client: openai.OpenAI, conversation_id: str) -> list[tuple[str, str | None, str]]:
    items = client.conversations.items.list(conversation_id, order="asc", limit=100).data
    return [(i.type, getattr(i, "role", None), i.status) for i in items]


def test_store_writes_the_turn_and_conversation_replays_it(client: openai.OpenAI) -> None:
    raw = ask(client, "My name is Ada.", store=True)
    conversation_id = raw.headers[HEADER]
    first = raw.parse()
    assert conversation_id.startswith("conv_") and first.choices[0].message.content is not None
    assert turn_shape(client, conversation_id) == [
        ("message", "user", "completed"),
        ("message", "assistant", "completed"),
    ]
    assert client.conversations.retrieve(conversation_id).model_extra["title"] == "My name is Ada."

    alone = ask(client, "What is my name?").parse()
    followed = ask(client, "What is my name?", store=True, extra_body={"conversation": conversation_id})
    assert followed.headers[HEADER] == conversation_id
    # The history went to the model: the prompt holds the earlier turn too (usage counts what was sent).
    assert followed.parse().usage.prompt_tokens > alone.usage.prompt_tokens + 5
    items = client.conversations.items.list(conversation_id, order="asc").data
    assert [i.content[0].text for i in items if i.role == "user"] == ["My name is Ada.", "What is my name?"]
    assert len(items) == 4

    # Replay without store reads the history and writes nothing.
    ask(client, "And again?", extra_body={"conversation": conversation_id})
    assert len(client.conversations.items.list(conversation_id).data) == 4


def test_a_streamed_turn_is_stored(client: openai.OpenAI) -> None:
    with client.chat.completions.with_streaming_response.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Stream this."}],
        max_tokens=3,
        temperature=0,
        stream=True,
        store=True,
        extra_body=NO_THINKING,
    ) as response:
        conversation_id = response.headers[HEADER]
        text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
    items = client.conversations.items.list(conversation_id, order="asc").data
    assert [i.role for i in items] == ["user", "assistant"] and items[1].status == "completed"
    assert items[1].content[0].text == text


def test_a_stream_the_client_leaves_is_stored_incomplete(stack: Stack, client: openai.OpenAI) -> None:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Talk for a long time."}],
        "max_tokens": 400,
        "ignore_eos": True,
        "stream": True,
        "store": True,
        **NO_THINKING,
    }
    headers = {"authorization": f"Bearer {client.api_key}"}
    with (
        httpx.Client(timeout=60) as http,
        http.stream("POST", f"{stack.http_url}/v1/chat/completions", json=body, headers=headers) as r,
    ):
        conversation_id = r.headers[HEADER]
        chunks = r.iter_bytes()
        received = b""
        while received.count(b"data: ") < 5:
            received += next(chunks)
    # The client is gone: the engine request is aborted and what was generated is stored, incomplete.
    deadline, shape = time.monotonic() + 30, []
    while time.monotonic() < deadline:
        try:  # a new conversation is created with its first turn, when that is stored
            shape = turn_shape(client, conversation_id)
        except openai.NotFoundError:
            shape = []
        if len(shape) == 2:
            break
        time.sleep(0.2)
    assert shape == [("message", "user", "completed"), ("message", "assistant", "incomplete")]
    answer = client.conversations.items.list(conversation_id, order="asc").data[1].content[0].text
    assert len(answer) > 0


def test_another_callers_conversation_is_not_found(stack: Stack, client: openai.OpenAI) -> None:
    conversation_id = ask(client, "Secret plans.", store=True).headers[HEADER]
    other = openai.OpenAI(base_url=f"{stack.http_url}/v1", api_key=guest_login(stack), max_retries=0, timeout=60)
    with pytest.raises(openai.NotFoundError) as raised:
        ask(other, "Tell me the plans.", extra_body={"conversation": conversation_id})
    assert raised.value.body["param"] == "conversation_id"
    with pytest.raises(openai.NotFoundError):
        ask(other, "Append this.", store=True, extra_body={"conversation": conversation_id})
    assert len(client.conversations.items.list(conversation_id).data) == 2


def test_store_refuses_n_above_one(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        ask(client, "x", store=True, n=2, temperature=1.0)
    assert raised.value.body["param"] == "n"


async def test_native_grpc_store_and_conversation(stack: Stack, guest_metadata) -> None:
    params = json_format.ParseDict(
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 2,
            "store": True,
            **NO_THINKING,
        },
        pb.ChatCompletionParams(),
    )
    async with grpc.aio.insecure_channel(stack.grpc_target) as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)
        call = stub.CreateChatCompletion(pb.CreateChatCompletionRequest(params=params), metadata=guest_metadata)
        response = await call
        headers = dict(await call.initial_metadata())
        assert response.conversation_id.startswith("conv_") and headers[HEADER] == response.conversation_id
        params.conversation = response.conversation_id
        chunks = [
            c
            async for c in stub.StreamChatCompletion(
                pb.StreamChatCompletionRequest(params=params), metadata=guest_metadata
            )
        ]
        assert chunks[-1].choices[0].finish_reason
        listed = await stub.ListConversationItems(
            pb.ListConversationItemsRequest(conversation_id=response.conversation_id), metadata=guest_metadata
        )
        assert len(listed.data) == 4
