"""Every JSON body the REST surface answers, validated raw against OpenAI's published OpenAPI document (the
schema it names for the route), through the real Envoy and the real engine: required-but-nullable fields
must be present as null. What the SDK tolerates is not the bar. (The admin API's bodies are checked in
tests/auth/test_edge_admin_spec.py.)"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from devstack.stack import Stack
from tests.conftest import TINY_MODEL_NAME
from tests.support.openai_spec import assert_error, assert_route, sse_events

MODEL = TINY_MODEL_NAME
NO_THINKING = {"enable_thinking": False}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
FORCED_TOOL_CALL = (
    r"<think>\nThe user wants the weather\.\n</think>\n\n"
    r'<tool_call>\n\{"name": "get_weather", "arguments": \{"city": "Paris"\}\}\n</tool_call>'
)


def call(stack: Stack, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, bytes]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(stack.http_url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(scope="module")
def marker_bias(tiny_model_dir: Path) -> dict[str, float]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    ids = tokenizer.convert_tokens_to_ids(["<think>", "</think>", "<tool_call>", "</tool_call>"])
    return {str(i): 100.0 for i in ids}


def chat_body(**fields: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Hello"}],
        "max_tokens": 4,
        "temperature": 0,
        "chat_template_kwargs": NO_THINKING,
        **fields,
    }


def test_models(stack: Stack, guest_token: str) -> None:
    for path in ("/v1/models", f"/v1/models/{MODEL}"):
        status, body = call(stack, "GET", path, token=guest_token)
        assert status == 200
        assert_route("GET", path, json.loads(body))


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"logprobs": True, "top_logprobs": 2},
        {"n": 2, "temperature": 1.0},
    ],
    ids=["plain", "logprobs", "n"],
)
def test_whole_completion(stack: Stack, guest_token: str, fields: dict) -> None:
    status, raw = call(stack, "POST", "/v1/chat/completions", chat_body(**fields), guest_token)
    assert status == 200, raw
    body = json.loads(raw)
    assert_route("POST", "/v1/chat/completions", body)
    assert all(c["logprobs"] is None for c in body["choices"]) != bool(fields.get("logprobs"))


def test_whole_completion_with_reasoning_and_a_tool_call(
    stack: Stack, guest_token: str, marker_bias: dict[str, float]
) -> None:
    fields = {
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [WEATHER],
        "max_tokens": 80,
        "logit_bias": marker_bias,
        "structured_outputs": {"regex": FORCED_TOOL_CALL},
        "chat_template_kwargs": {},
    }
    status, raw = call(stack, "POST", "/v1/chat/completions", chat_body(**fields), guest_token)
    assert status == 200, raw
    body = json.loads(raw)
    assert_route("POST", "/v1/chat/completions", body)
    message = body["choices"][0]["message"]
    assert message["content"] is None and message["refusal"] is None and message["tool_calls"]


@pytest.mark.parametrize(
    "fields",
    [
        {"stream_options": {"include_usage": True}},
        {"logprobs": True, "top_logprobs": 1},
        {"n": 2, "temperature": 1.0, "stream_options": {"include_usage": True}},
    ],
    ids=["usage", "logprobs", "n"],
)
def test_every_streamed_event(stack: Stack, guest_token: str, fields: dict) -> None:
    status, raw = call(stack, "POST", "/v1/chat/completions", chat_body(stream=True, **fields), guest_token)
    assert status == 200, raw
    events = sse_events(raw)
    assert len(events) > 3
    for event in events:
        assert_route("POST", "/v1/chat/completions", event, "text/event-stream")


def test_streamed_tool_call_events(stack: Stack, guest_token: str, marker_bias: dict[str, float]) -> None:
    fields = {
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [WEATHER],
        "max_tokens": 80,
        "logit_bias": marker_bias,
        "structured_outputs": {"regex": FORCED_TOOL_CALL},
        "chat_template_kwargs": {},
        "stream": True,
    }
    status, raw = call(stack, "POST", "/v1/chat/completions", chat_body(**fields), guest_token)
    assert status == 200, raw
    events = sse_events(raw)
    for event in events:
        assert_route("POST", "/v1/chat/completions", event, "text/event-stream")
    assert any(e["choices"] and e["choices"][0]["delta"].get("tool_calls") for e in events)


@pytest.mark.parametrize(
    ("method", "path", "body", "token", "status"),
    [
        ("POST", "/v1/chat/completions", {"model": MODEL, "messages": []}, True, 400),
        (
            "POST",
            "/v1/chat/completions",
            {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "x": 1},
            True,
            400,
        ),
        ("POST", "/v1/chat/completions", chat_body(model="nope"), True, 404),
        ("POST", "/v1/chat/completions", chat_body(stream=True, temperature=5), True, 400),
        ("POST", "/v1/chat/completions", chat_body(), False, 401),
        ("GET", "/v1/models/nope", None, True, 404),
        ("GET", "/v1/conversations/conv_nope", None, True, 404),
        ("GET", "/v1/no-such-route", None, True, 404),
    ],
)
def test_error_bodies(
    stack: Stack, guest_token: str, method: str, path: str, body: Any, token: bool, status: int
) -> None:
    got, raw = call(stack, method, path, body, guest_token if token else None)
    assert got == status, raw
    assert_error(json.loads(raw))


ITEMS = [
    {"type": "message", "role": "user", "content": "a string"},
    {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "parts"}]},
    {"type": "message", "role": "assistant", "content": "an answer"},
    {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
    {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
    {"type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": "hm"}]},
]


def test_conversations(stack: Stack, guest_token: str) -> None:
    status, raw = call(stack, "POST", "/v1/conversations", {"items": ITEMS[:2], "metadata": {"k": "v"}}, guest_token)
    assert status == 200, raw
    conversation = json.loads(raw)
    assert_route("POST", "/v1/conversations", conversation)
    base = f"/v1/conversations/{conversation['id']}"
    checks = [
        ("GET", base, None),
        ("POST", base, {"metadata": {"k": "w"}}),
        ("POST", f"{base}/items", {"items": ITEMS[2:]}),
        ("GET", f"{base}/items", None),
        ("GET", f"{base}/items?limit=2&order=asc", None),
    ]
    for method, path, body in checks:
        status, raw = call(stack, method, path, body, guest_token)
        assert status == 200, raw
        assert_route(method, path, json.loads(raw))
    items = json.loads(call(stack, "GET", f"{base}/items", token=guest_token)[1])["data"]
    assert sorted(i["type"] for i in items) == sorted(i["type"] for i in ITEMS)
    for item in items:
        item_path = f"{base}/items/{item['id']}"
        status, raw = call(stack, "GET", item_path, token=guest_token)
        assert status == 200, raw
        assert_route("GET", item_path, json.loads(raw))
    status, raw = call(stack, "DELETE", f"{base}/items/{items[0]['id']}", token=guest_token)
    assert status == 200, raw
    assert_route("DELETE", f"{base}/items/{items[0]['id']}", json.loads(raw))
    status, raw = call(stack, "DELETE", base, token=guest_token)
    assert status == 200
    assert_route("DELETE", base, json.loads(raw))
    status, raw = call(stack, "GET", f"{base}/items", token=guest_token)
    assert status == 404
    assert_error(json.loads(raw))


def test_an_empty_item_list(stack: Stack, guest_token: str) -> None:
    conversation = json.loads(call(stack, "POST", "/v1/conversations", {}, guest_token)[1])
    path = f"/v1/conversations/{conversation['id']}/items"
    status, raw = call(stack, "GET", path, token=guest_token)
    assert status == 200
    assert_route("GET", path, json.loads(raw))


def test_stored_completion_items(stack: Stack, guest_token: str) -> None:
    status, raw = call(stack, "POST", "/v1/chat/completions", chat_body(store=True), guest_token)
    assert status == 200, raw
    assert_route("POST", "/v1/chat/completions", json.loads(raw))
    conversations = json.loads(call(stack, "GET", "/v1/conversations?limit=1", token=guest_token)[1])["data"]
    path = f"/v1/conversations/{conversations[0]['id']}/items"
    status, raw = call(stack, "GET", path, token=guest_token)
    assert [i["role"] for i in json.loads(raw)["data"]] == ["assistant", "user"]
    assert_route("GET", path, json.loads(raw))
