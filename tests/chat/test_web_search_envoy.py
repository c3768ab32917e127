"""Web search in chat completions through Envoy with the official SDK, on the real engine and the real search
service (its Serper client against the local stand-in): the first step's forced web_search call (vLLM's
named tool choice, parsed by its parser), the search, the answer forced through structured outputs to cite
[1], url_citation annotations in the whole answer and in the stream, the steps stored as items."""

from __future__ import annotations

import openai
import pytest

from devstack.stack import Stack
from tests.conftest import TINY_MODEL_NAME, guest_login
from tests.support.fake_serper import FakeSerper
from tests.support.openai_spec import assert_route, sse_events

ANSWER = "It is sunny today [1]."
BODY = {
    "model": TINY_MODEL_NAME,
    "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
    # Each step's: the forced call's fixed text, a query of at most 16 characters (the stack's bound), the cited
    # answer, however the random model spells them (one token a character at worst).
    "max_tokens": 96,
    "temperature": 0,
}
EXTRA = {
    "web_search_options": {"search_context_size": "low"},
    "structured_outputs": {"regex": r"It is sunny today \[1\]\."},
}


@pytest.fixture
def client(stack: Stack) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.http_url}/v1", api_key=guest_login(stack), max_retries=0, timeout=120)


def test_the_answer_is_searched_and_cites_its_source(client: openai.OpenAI, fake_serper: FakeSerper) -> None:
    completion = client.chat.completions.create(
        **BODY, extra_body={**EXTRA, "chat_template_kwargs": {"enable_thinking": False}}
    )
    message = completion.choices[0].message
    assert message.content == ANSWER and completion.choices[0].finish_reason == "stop"
    (annotation,) = message.annotations
    assert annotation.type == "url_citation" and annotation.url_citation.url.endswith("/1")
    assert ANSWER[annotation.url_citation.start_index : annotation.url_citation.end_index] == "[1]"
    # The model wrote its own query (gibberish from a random model), searched by the stand-in now or by an
    # earlier test (the search service caches): the stand-in titles its results after the query.
    title = annotation.url_citation.title
    assert title.endswith(" - result 1") and title.removesuffix(" - result 1") in fake_serper.queries()
    assert not message.tool_calls  # the search call is the server's, not the client's
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 10  # both steps count


def test_the_stream_carries_the_annotations_and_validates(stack: Stack, client: openai.OpenAI) -> None:
    import httpx

    body = {**BODY, **EXTRA, "stream": True, "chat_template_kwargs": {"enable_thinking": False}}
    response = httpx.post(
        f"{stack.http_url}/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {client.api_key}"},
        timeout=120,
    )
    events = sse_events(response.content)
    for event in events:
        assert_route("POST", "/v1/chat/completions", event, "text/event-stream")
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert text == ANSWER
    (cited,) = [e for e in events if e["choices"] and e["choices"][0]["delta"].get("annotations")]
    assert cited["choices"][0]["delta"]["annotations"][0]["type"] == "url_citation"
    assert [e["choices"][0]["finish_reason"] for e in events if e["choices"] and e["choices"][0]["finish_reason"]] == [
        "stop"
    ]


def test_with_store_the_search_is_an_item(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        **BODY, store=True, extra_body={**EXTRA, "chat_template_kwargs": {"enable_thinking": False}}
    )
    conversation = raw.headers["x-jan-conversation-id"]
    items = client.conversations.items.list(conversation, order="asc").data
    assert [i.type for i in items] == ["message", "web_search_call", "message"]
    search = items[1]
    assert search.status == "completed" and search.action.type == "search"
    assert search.action.sources[0].url.endswith("/1")


def test_bad_options_are_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(**BODY, extra_body={"web_search_options": {"search_context_size": "huge"}})
    assert raised.value.body["param"] == "web_search_options.search_context_size"
    with pytest.raises(openai.BadRequestError) as raised:  # the SDK's own typed parameter
        client.chat.completions.create(
            **{**BODY, "temperature": 1}, n=2, web_search_options={"search_context_size": "low"}
        )
    assert raised.value.body["param"] == "n"
