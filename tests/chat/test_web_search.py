"""Server-side web search for chat completions against a scripted model and a scripted search service (no
gRPC, no engine): the options, the loop's steps (forced first search, more searches, the answer), results
the model reads, citations, the client's own tools, failures and streaming."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from google.protobuf import json_format

from jan.v1 import chat_service_pb2 as pb
from jan.v1 import inference_service_pb2 as inference_pb
from jan.v1 import search_service_pb2 as search_pb
from services.chat import convert, web_search
from services.chat.domain import ChatRequest
from services.chat.search_loop import SearchDone, SearchLoop, SearchStarted
from services.common.errors import FailedPrecondition, InvalidArgument
from services.common.generation import join_steps

USAGE = {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}


def step(**fields: object) -> inference_pb.GenerateResponse:
    return json_format.ParseDict(fields, inference_pb.GenerateResponse())


def search_call(query: str, index: int = 0) -> dict:
    arguments = json.dumps({"query": query})
    return {
        "index": index,
        "id": f"call_{query}",
        "type": "function",
        "function": {"name": "web_search", "arguments": arguments},
    }


class ScriptedModel:
    """Answers call k of generate/generate_whole with the k-th script entry (a list of streamed steps)."""

    def __init__(self, *script: list[inference_pb.GenerateResponse]) -> None:
        self.script = list(script)
        self.requests: list[inference_pb.GenerateRequest] = []

    def _next(self, request: inference_pb.GenerateRequest) -> list[inference_pb.GenerateResponse]:
        copy = inference_pb.GenerateRequest()
        copy.CopyFrom(request)
        self.requests.append(copy)
        return self.script.pop(0)

    async def generate(self, request: inference_pb.GenerateRequest) -> AsyncIterator[inference_pb.GenerateResponse]:
        for s in self._next(request):
            yield s

    async def generate_whole(self, request: inference_pb.GenerateRequest) -> list[inference_pb.GenerateResponse]:
        return [join_steps(self._next(request))]


class ScriptedSearch:
    def __init__(self, fail: Exception | None = None) -> None:
        self.queries: list[search_pb.SearchRequest] = []
        self.fail = fail

    async def search(self, request: search_pb.SearchRequest) -> search_pb.SearchResponse:
        self.queries.append(request)
        if self.fail is not None:
            raise self.fail
        response = search_pb.SearchResponse()
        for i in range(1, 4):
            response.organic.add(
                title=f"{request.q} page {i}", link=f"https://example.com/{request.q}/{i}", snippet="s"
            )
        return response


def request(*, stream: bool = False, **fields: object) -> ChatRequest:
    body = {"model": "m", "messages": [{"role": "user", "content": "What is new?"}], "web_search_options": {}, **fields}
    return convert.chat_request(json_format.ParseDict(body, pb.ChatCompletionParams()), "c", stream=stream)


# -- options and pieces -----------------------------------------------------------------------------------


def test_options() -> None:
    options = request(
        web_search_options={
            "search_context_size": "high",
            "user_location": {"type": "approximate", "approximate": {"country": "DE", "city": "Berlin"}},
        }
    ).web_search
    assert options is not None and options.results == 10 and options.country == "de"
    assert options.location == "Berlin, DE"
    sent = web_search.search_request(options, "q")
    assert (sent.q, sent.num, sent.gl, sent.location) == ("q", 10, "de", "Berlin, DE")
    assert request(web_search_options=None).web_search is None
    assert request().web_search == web_search.parse_options(
        json_format.ParseDict({}, pb.ChatCompletionParams().web_search_options)
    )


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"search_context_size": "huge"}, "web_search_options.search_context_size"),
        ({"user_location": {"type": "exact"}}, "web_search_options.user_location"),
        (
            {"user_location": {"type": "approximate", "approximate": {"country": "Germany"}}},
            "web_search_options.user_location.approximate.country",
        ),
        ({"unknown": 1}, "web_search_options.unknown"),
        ("yes", "web_search_options"),
    ],
)
def test_bad_options_name_the_field(options: object, param: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        request(web_search_options=options)
    assert raised.value.param == param


def test_n_above_one_is_refused() -> None:
    with pytest.raises(InvalidArgument) as raised:
        request(n=2, temperature=1)
    assert raised.value.param == "n"


def test_citations_are_the_numbered_markers_that_name_a_source() -> None:
    sources = [web_search.Source(1, "https://a", "A"), web_search.Source(2, "https://b", "B")]
    content = "First [1], then [2] and [7], [1] again."
    found = web_search.citations(content, sources)
    assert [(content[c.start : c.end], c.url) for c in found] == [
        ("[1]", "https://a"),
        ("[2]", "https://b"),
        ("[1]", "https://a"),
    ]


# -- the loop ---------------------------------------------------------------------------------------------


async def test_first_step_must_search_then_the_answer_cites() -> None:
    model = ScriptedModel(
        [step(tool_calls=[search_call("news")], finish_reason="FINISH_REASON_TOOL_CALLS", usage=USAGE)],
        [step(content="Big news [2].", finish_reason="FINISH_REASON_STOP", usage=USAGE)],
    )
    search = ScriptedSearch()
    chat = request(stream=False, structured_outputs={"regex": ".*"})
    run = web_search.SearchRun(chat.web_search)
    answer = await SearchLoop(model, search, max_steps=3).whole(chat, True, run)
    assert answer.content == "Big news [2]." and answer.usage.total_tokens == 24  # both steps count
    assert [q.q for q in search.queries] == ["news"]
    first, second = model.requests
    assert first.tool_choice.function_name == "web_search" and not first.HasField("structured_outputs")
    assert second.tool_choice.mode == "auto" and second.structured_outputs.regex == ".*"
    assert second.messages[-2].tool_calls[0].function.name == "web_search"
    results = second.messages[-1]
    assert results.role == "tool" and "[1] news page 1 (https://example.com/news/1)" in results.content.string_value
    (cited,) = web_search.citations(answer.content, run.sources)
    assert cited.url == "https://example.com/news/2"


async def test_the_search_tool_is_strict_and_bounds_the_query() -> None:
    # Strict: vLLM's grammar then holds the arguments to the schema (the query's length too), not just the
    # call's envelope.
    model = ScriptedModel(
        [step(tool_calls=[search_call("news")], finish_reason="FINISH_REASON_TOOL_CALLS")],
        [step(content="Done.", finish_reason="FINISH_REASON_STOP")],
    )
    loop = SearchLoop(model, ScriptedSearch(), max_steps=1, max_query_chars=40)
    await loop.bounded(None).whole(request(), True, web_search.SearchRun(request().web_search))
    (tool,) = model.requests[0].tools
    assert tool.function.name == "web_search" and tool.function.strict
    parameters = json_format.MessageToDict(tool.function.parameters)
    assert parameters["properties"]["query"]["maxLength"] == 40 and parameters["additionalProperties"] is False
    assert loop.bounded(0).tool() == tool  # a loop bounded by max_tool_calls keeps the query's bound


async def test_searching_steps_are_bounded_then_the_model_must_answer() -> None:
    searching = [[step(tool_calls=[search_call(f"q{i}")], finish_reason="FINISH_REASON_TOOL_CALLS")] for i in range(2)]
    model = ScriptedModel(*searching, [step(content="Done.", finish_reason="FINISH_REASON_STOP")])
    search = ScriptedSearch()
    answer = await SearchLoop(model, search, max_steps=2).whole(
        request(), True, web_search.SearchRun(request().web_search)
    )
    assert answer.content == "Done." and [q.q for q in search.queries] == ["q0", "q1"]
    assert model.requests[-1].tool_choice.mode == "none"


async def test_the_clients_own_tools_go_back_to_it() -> None:
    mine = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    client_call = {"index": 1, "id": "call_x", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
    model = ScriptedModel(
        [step(tool_calls=[search_call("a")], finish_reason="FINISH_REASON_TOOL_CALLS")],
        [step(tool_calls=[search_call("b"), client_call], finish_reason="FINISH_REASON_TOOL_CALLS")],
    )
    answer = await SearchLoop(model, ScriptedSearch(), 3).whole(
        request(tools=[mine]), True, web_search.SearchRun(request().web_search)
    )
    assert [(c.index, c.function.name) for c in answer.tool_calls] == [(0, "lookup")]
    assert answer.finish_reason == inference_pb.FINISH_REASON_TOOL_CALLS


async def test_a_failed_search_is_a_tool_result_and_the_answer_still_comes() -> None:
    model = ScriptedModel(
        [step(tool_calls=[search_call("x")], finish_reason="FINISH_REASON_TOOL_CALLS")],
        [step(content="Sorry.", finish_reason="FINISH_REASON_STOP")],
    )
    search = ScriptedSearch(fail=FailedPrecondition("web search is not configured: SERPER_API_KEY is not set"))
    run = web_search.SearchRun(request().web_search)
    answer = await SearchLoop(model, search, 3).whole(request(), True, run)
    assert answer.content == "Sorry." and run.calls[0].failed
    assert "failed: web search is not configured" in model.requests[1].messages[-1].content.string_value


async def test_a_model_without_tool_calls_gets_one_search_in_its_context() -> None:
    model = ScriptedModel([step(content="See [1].", finish_reason="FINISH_REASON_STOP")])
    search = ScriptedSearch()
    run = web_search.SearchRun(request().web_search)
    answer = await SearchLoop(model, search, 3).whole(request(), False, run)
    assert [q.q for q in search.queries] == ["What is new?"] and answer.content == "See [1]."
    (sent,) = model.requests
    assert [m.role for m in sent.messages] == ["system", "user"] and not sent.tools
    assert "[1] What is new? page 1" in sent.messages[0].content.string_value


async def test_streamed_answer_holds_back_searches_and_renumbers_client_calls() -> None:
    client_call = {"index": 1, "id": "call_x", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
    model = ScriptedModel(
        [step(tool_calls=[search_call("a")], finish_reason="FINISH_REASON_TOOL_CALLS", usage=USAGE)],
        [
            step(content="Looking "),
            step(tool_calls=[search_call("b")]),
            step(finish_reason="FINISH_REASON_TOOL_CALLS", usage=USAGE),
        ],
        [
            step(content="Found [3]"),
            step(tool_calls=[client_call]),
            step(finish_reason="FINISH_REASON_TOOL_CALLS", usage=USAGE),
        ],
    )
    mine = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    chat = request(stream=True, tools=[mine])
    run = web_search.SearchRun(chat.web_search)
    everything = [s async for s in SearchLoop(model, ScriptedSearch(), 3).steps(chat, True, run)]
    progress = [(type(s).__name__, s.call.query) for s in everything if isinstance(s, SearchStarted | SearchDone)]
    assert progress == [("SearchStarted", "a"), ("SearchDone", "a"), ("SearchStarted", "b"), ("SearchDone", "b")]
    seen = [s for s in everything if isinstance(s, inference_pb.GenerateResponse)]
    assert "".join(s.content for s in seen) == "Looking Found [3]"
    calls = [c for s in seen for c in s.tool_calls]
    assert [(c.index, c.function.name) for c in calls] == [(0, "lookup")]
    assert [s.finish_reason for s in seen if s.finish_reason] == [inference_pb.FINISH_REASON_TOOL_CALLS]
    assert seen[-1].usage.total_tokens == 36 and len(run.sources) == 6
