"""The server-side web search loop of a chat completion (web_search.py says what it is for).

A model that can call tools answers in steps. Step 0 must call `web_search` (the request's own format
constraints are left out of it: they shape the answer, not the query); the chat service runs the queries
through the search service, adds the call and the numbered results to the conversation and asks again.
Later steps may search again, up to `max_steps` searching steps; the step after the last must answer. Calls
to the client's own tools end the loop and go back to the client untouched (renumbered from 0 when search
calls are left out beside them). A search that fails becomes a tool result saying so: the model still
answers. Usage adds up every step.

Streaming: the forced first step runs whole (it only writes a query); later steps stream to the client
as they come, their web_search call pieces held back and run when the step ends.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from jan.v1 import inference_service_pb2 as inference_pb
from jan.v1 import search_service_pb2 as search_pb
from jan.v1 import types_pb2
from services.chat import web_search
from services.chat.domain import ChatRequest
from services.common.errors import JanError
from services.common.generation import join_steps


class Search(Protocol):
    async def search(self, request: search_pb.SearchRequest) -> search_pb.SearchResponse: ...


class Generation(Protocol):
    def generate(self, request: inference_pb.GenerateRequest) -> AsyncIterator[inference_pb.GenerateResponse]: ...

    async def generate_whole(self, request: inference_pb.GenerateRequest) -> list[inference_pb.GenerateResponse]: ...


def _add_usage(total: types_pb2.Usage, step: inference_pb.GenerateResponse) -> None:
    if not step.HasField("usage"):
        return
    u = step.usage
    total.prompt_tokens += u.prompt_tokens
    total.completion_tokens += u.completion_tokens
    total.total_tokens += u.total_tokens
    total.prompt_tokens_details.cached_tokens += u.prompt_tokens_details.cached_tokens
    total.completion_tokens_details.reasoning_tokens += u.completion_tokens_details.reasoning_tokens


def _is_search(call: types_pb2.ToolCallDelta) -> bool:
    return call.function.name == web_search.TOOL_NAME


@dataclass(frozen=True, slots=True)
class SearchStarted:
    call: web_search.SearchCall


@dataclass(frozen=True, slots=True)
class SearchDone:
    call: web_search.SearchCall


class SearchLoop:
    def __init__(
        self, inference: Generation, search: Search, max_steps: int, max_query_chars: int = web_search.MAX_QUERY_CHARS
    ) -> None:
        self._inference = inference
        self._search = search
        self._max_steps = max_steps
        self._tool = web_search.tool(max_query_chars)  # built once: requests copy it in

    def bounded(self, max_tool_calls: int | None) -> SearchLoop:
        """The same loop with at most `max_tool_calls` searching steps (OpenAI's max_tool_calls)."""
        if max_tool_calls is None or max_tool_calls >= self._max_steps:
            return self
        loop = copy.copy(self)
        loop._max_steps = max_tool_calls
        return loop

    def tool(self) -> types_pb2.Tool:
        """The web_search function the model is given (shared: append it, which copies, never change it)."""
        return self._tool

    # -- the request of each step -----------------------------------------------------------------------

    def _first(self, request: ChatRequest) -> inference_pb.GenerateRequest:
        generate = inference_pb.GenerateRequest()
        generate.CopyFrom(request.generate)
        generate.tools.append(self.tool())
        generate.messages.insert(0, _instructions())
        return generate

    def _for_step(
        self, generate: inference_pb.GenerateRequest, request: ChatRequest, step: int, force: bool = True
    ) -> None:
        """Sets the tool choice and format constraints of step `step` on the running request."""
        client_tools = len(request.generate.tools) > 0
        client_choice = request.generate.tool_choice
        generate.ClearField("tool_choice")
        generate.ClearField("structured_outputs")
        generate.ClearField("response_format")
        if step == 0 and force:
            generate.tool_choice.function_name = web_search.TOOL_NAME
            return
        if request.generate.HasField("structured_outputs"):
            generate.structured_outputs.CopyFrom(request.generate.structured_outputs)
        if request.generate.HasField("response_format"):
            generate.response_format.CopyFrom(request.generate.response_format)
        if step >= self._max_steps and not client_tools:
            generate.tool_choice.mode = "none"  # searched enough: answer
        elif client_choice.WhichOneof("choice") == "function_name" or client_choice.mode in ("required", "none"):
            generate.tool_choice.CopyFrom(client_choice)
        else:
            generate.tool_choice.mode = "auto"

    async def _run_searches(
        self,
        generate: inference_pb.GenerateRequest,
        answer: inference_pb.GenerateResponse,
        calls: list[types_pb2.ToolCallDelta],
        run: web_search.SearchRun,
        searches: list[web_search.SearchCall],
    ) -> None:
        """Runs the step's searches (begun in `searches`) together and adds the call and its results to the
        conversation."""
        outcomes = await asyncio.gather(
            *(self._search.search(web_search.search_request(run.options, s.query)) for s in searches),
            return_exceptions=True,
        )
        assistant = generate.messages.add(role="assistant")
        if answer.content:
            assistant.content.string_value = answer.content
        else:
            assistant.content.null_value = 0
        for call, search, outcome in zip(calls, searches, outcomes, strict=True):
            if isinstance(outcome, BaseException) and not isinstance(outcome, JanError):
                raise outcome
            made = assistant.tool_calls.add(id=call.id or f"call_search_{len(run.calls)}", type="function")
            made.function.name, made.function.arguments = call.function.name, call.function.arguments
            result = generate.messages.add(role="tool", tool_call_id=made.id)
            result.content.string_value = run.complete(search, outcome)

    def _begin(self, run: web_search.SearchRun, calls: list[types_pb2.ToolCallDelta]) -> list[web_search.SearchCall]:
        return [run.begin(web_search.query_of(c.function.arguments)) for c in calls]

    # -- whole ------------------------------------------------------------------------------------------

    async def whole(
        self, request: ChatRequest, tool_calling: bool, run: web_search.SearchRun
    ) -> inference_pb.GenerateResponse:
        """The final answer, its usage that of every step."""
        if not tool_calling:
            generate = await self._searched_context(request, run)
            return (await self._inference.generate_whole(generate))[0]
        generate = self._first(request)
        usage = types_pb2.Usage()
        for step in range(self._max_steps + 1):
            self._for_step(generate, request, step)
            answer = (await self._inference.generate_whole(generate))[0]
            _add_usage(usage, answer)
            searches = [c for c in answer.tool_calls if _is_search(c)]
            others = [c for c in answer.tool_calls if not _is_search(c)]
            if searches and not others and step < self._max_steps:
                await self._run_searches(generate, answer, searches, run, self._begin(run, searches))
                continue
            _keep_calls(answer, others)
            answer.usage.CopyFrom(usage)
            return answer
        raise AssertionError("unreachable: the last step returns")

    async def _searched_context(self, request: ChatRequest, run: web_search.SearchRun) -> inference_pb.GenerateRequest:
        """For a model without tool calls: one search on the user's question, its results in the context."""
        query = web_search.last_user_text(request.generate.messages)[:512]
        try:
            outcome: search_pb.SearchResponse | JanError = await self._search.search(
                web_search.search_request(run.options, query)
            )
        except JanError as error:
            outcome = error
        generate = inference_pb.GenerateRequest()
        generate.CopyFrom(request.generate)
        last_user = max((i for i, m in enumerate(generate.messages) if m.role == "user"), default=0)
        messages = list(generate.messages)
        messages.insert(last_user, web_search.context_message(run.record(query, outcome)))
        del generate.messages[:]
        generate.messages.extend(messages)
        return generate

    # -- streamed ---------------------------------------------------------------------------------------

    async def steps(
        self, request: ChatRequest, tool_calling: bool, run: web_search.SearchRun, *, force_search: bool = True
    ) -> AsyncIterator[inference_pb.GenerateResponse | SearchStarted | SearchDone]:
        """The steps the client sees: the final answer's content as it streams (and any earlier step's text),
        never the search calls; the finish and the summed usage once, at the end. Between them, when each
        search starts and ends (Responses streams those; chat completions skip them)."""
        if not tool_calling:
            generate = await self._searched_context(request, run)
            for search in run.calls:
                yield SearchStarted(search)
                yield SearchDone(search)
            async for step in self._inference.generate(generate):
                yield step
            return
        generate = self._first(request)
        usage = types_pb2.Usage()
        for step_number in range(self._max_steps + 1):
            self._for_step(generate, request, step_number, force_search)
            if step_number == 0 and force_search:  # only writes a query: run whole
                answer = (await self._inference.generate_whole(generate))[0]
                _add_usage(usage, answer)
                searches = [c for c in answer.tool_calls if _is_search(c)]
                if searches:
                    begun = self._begin(run, searches)
                    for search in begun:
                        yield SearchStarted(search)
                    await self._run_searches(generate, answer, searches, run, begun)
                    for search in begun:
                        yield SearchDone(search)
                    continue
                answer.usage.CopyFrom(usage)
                yield answer
                return
            collected: list[inference_pb.GenerateResponse] = []
            renumber: dict[int, int | None] = {}  # the step's call index -> the client's, None: a search
            finish = inference_pb.FINISH_REASON_UNSPECIFIED
            async for piece in self._inference.generate(generate):
                collected.append(piece)
                _add_usage(usage, piece)
                finish = piece.finish_reason or finish
                forwarded = _without_searches(piece, renumber)
                if forwarded is not None:
                    yield forwarded
            joined = join_steps(collected)
            searches = [c for c in joined.tool_calls if _is_search(c)]
            clients = any(v is not None for v in renumber.values())
            if searches and not clients and step_number < self._max_steps:
                begun = self._begin(run, searches)
                for search in begun:
                    yield SearchStarted(search)
                await self._run_searches(generate, joined, searches, run, begun)
                for search in begun:
                    yield SearchDone(search)
                continue
            last = inference_pb.GenerateResponse(finish_reason=_final_finish(finish, clients))
            last.usage.CopyFrom(usage)
            yield last
            return


def _instructions() -> types_pb2.ChatMessage:
    message = types_pb2.ChatMessage(role="system")
    message.content.string_value = web_search.INSTRUCTIONS
    return message


def _keep_calls(answer: inference_pb.GenerateResponse, calls: list[types_pb2.ToolCallDelta]) -> None:
    """Leaves the client's calls (numbered from 0) and drops the searches; the finish follows."""
    del answer.tool_calls[:]
    for index, call in enumerate(calls):
        call.index = index
        answer.tool_calls.append(call)
    if not calls and answer.finish_reason == inference_pb.FINISH_REASON_TOOL_CALLS:
        answer.finish_reason = inference_pb.FINISH_REASON_STOP


def _without_searches(
    piece: inference_pb.GenerateResponse, renumber: dict[int, int | None]
) -> inference_pb.GenerateResponse | None:
    """The streamed step as the client may see it: no search call pieces, client calls renumbered, no finish
    or usage (they come once, at the end); None when nothing is left."""
    out = inference_pb.GenerateResponse(
        index=piece.index, content=piece.content, reasoning_content=piece.reasoning_content
    )
    out.logprobs.extend(piece.logprobs)
    for call in piece.tool_calls:
        if call.index not in renumber:
            is_search = call.function.name == web_search.TOOL_NAME
            clients = sum(1 for v in renumber.values() if v is not None)
            renumber[call.index] = None if is_search else clients
        target = renumber[call.index]
        if target is not None:
            kept = out.tool_calls.add()
            kept.CopyFrom(call)
            kept.index = target
    if out.content or out.reasoning_content or out.tool_calls or out.logprobs:
        return out
    return None


def _final_finish(finish: inference_pb.FinishReason, client_calls: bool) -> inference_pb.FinishReason:
    if finish == inference_pb.FINISH_REASON_TOOL_CALLS and not client_calls:
        return inference_pb.FINISH_REASON_STOP
    return finish or inference_pb.FINISH_REASON_STOP
