"""OpenAI's Responses API over the chat service's request path: a response is a generation (or a web search
loop) whose steps the builder (responses_output.py) turns into events and the Response object, kept in
PostgreSQL when `store` is on (the default).

State: `previous_response_id` replays that response chain's input and output before the new input,
`conversation` replays the conversation's items and appends the new input and the output to it; both are
read within a byte budget, and with `truncation: "auto"` the engine cuts them to the context. A foreground
response is written once, when it ends. A background one is queued (responses_worker.py runs it on any
replica) and its events are logged so that any replica can stream them, from any sequence number
(stored_responses.py: reading, following and cancelling stored responses).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import AsyncIterator
from typing import Any

from google.protobuf import json_format

from jan.v1 import inference_service_pb2 as inference_pb
from jan.v1 import responses_service_pb2 as pb
from jan.v1 import types_pb2
from services.chat import items as item_shapes
from services.chat import limits, web_search
from services.chat.completions import HISTORY_BYTES_PER_TOKEN, ChatCompletions, clean_start
from services.chat.controls import Governance
from services.chat.conversations import Conversations
from services.chat.domain import ChatRequest, Item, NewItem, Owner, new_id
from services.chat.inference_client import InferenceClient
from services.chat.limits import Limits
from services.chat.responses_output import TERMINAL_EVENTS, Event, ResponseBuilder, failure_code
from services.chat.responses_request import ResponseRequest, parse
from services.chat.search_loop import SearchDone, SearchLoop, SearchStarted
from services.chat.store import AlsoInserted, ResponseStore, stored_with_turn
from services.chat.stored_responses import StoredResponses
from services.common.errors import JanError, NotFound

log = logging.getLogger(__name__)


def output_items(response: dict[str, Any]) -> list[NewItem]:
    """The Response's output as items (to store, and to append to a conversation)."""
    return [
        NewItem(item["id"], item["type"], {k: v for k, v in item.items() if k not in ("id", "type")})
        for item in response["output"]
    ]


def turn(request: ResponseRequest, response: dict[str, Any]) -> list[NewItem]:
    """What a response adds to its conversation: its input, then its output."""
    return [*request.input_items, *output_items(response)]


class Responses:
    def __init__(
        self,
        completions: ChatCompletions,
        inference: InferenceClient,
        search_loop: SearchLoop,
        conversations: Conversations,
        store: ResponseStore,
        governance: Governance,
        limits: Limits | None = None,
    ) -> None:
        self._limits = limits or Limits()
        self._governance = governance
        self._completions = completions
        self._inference = inference
        self._search_loop = search_loop
        self._conversations = conversations
        self.store = store
        self.stored = StoredResponses(store)
        self._recording: set[asyncio.Task[None]] = set()  # streams cut short, stored in the background

    def parse(
        self, params: pb.ResponseParams, owner: Owner, attribution: types_pb2.Attribution, *, stream: bool
    ) -> ResponseRequest:
        """The request checked, with the caller's limits (output tokens, each input item's size) and who its
        tokens are counted against."""
        request = parse(params, stream=stream)
        request.generate.attribution.CopyFrom(attribution)
        searching = "tools" if request.web_search is not None else None
        self._governance.admit(attribution.project_id, request.model, web_search_param=searching)
        limit = self._limits.output_tokens(owner.guest)
        limits.bound_output(request.generate, 1, limit, guest=owner.guest, param="max_output_tokens")
        for i, item in enumerate(request.input_items):
            item_shapes.check_size(item, self._limits.max_item_bytes, f"input[{i}]")
        return request

    # -- the request as it reaches the model ----------------------------------------------------------

    async def generate_request(self, request: ResponseRequest, owner: Owner) -> inference_pb.GenerateRequest:
        """Instructions, the replayed history (previous response chain or conversation), then the input."""
        model = await self._completions.model(request.model)
        budget = model.max_model_len * HISTORY_BYTES_PER_TOKEN
        history: list[Item] = []
        if request.previous_response_id:
            found = await self.store.chain(request.previous_response_id, owner, budget)
            if found is None:
                raise NotFound(
                    f"No response found with id '{request.previous_response_id[:64]}'", param="previous_response_id"
                )
            history = found
        elif request.conversation_id:
            history, held = await self._conversations.history(owner, request.conversation_id, budget)
            # room for the input and an answer: refused now, not when the turn is stored after generating
            self._conversations.check_turn(owner, request.input_items, held)
        generate = inference_pb.GenerateRequest()
        generate.CopyFrom(request.generate)
        if not history:
            return generate
        instructions = list(generate.messages)[: request.instruction_messages]
        replayed = clean_start(item_shapes.to_chat_messages([(i.type, i.body) for i in history]))
        rest = list(generate.messages)[len(instructions) :]
        del generate.messages[:]
        generate.messages.extend([*instructions, *replayed, *rest])
        if request.truncation == "auto":
            generate.truncatable_messages = len(instructions) + len(replayed)
        return generate

    async def count_input_tokens(self, params: pb.ResponseParams, owner: Owner) -> int:
        """The prompt tokens a create body would send (without a model: the first served model's count)."""
        if not params.model:
            params = copy.deepcopy(params)
            params.model = (await self._completions.models())[0].id
        request = parse(params, stream=False, counting=True)
        generate = await self.generate_request(request, owner)
        if request.web_search is not None:
            generate.tools.append(self._search_loop.tool())
        return await self._inference.count_tokens(generate)

    # -- running one ----------------------------------------------------------------------------------

    async def run(
        self,
        request: ResponseRequest,
        owner: Owner,
        builder: ResponseBuilder,
        *,
        announce: bool = True,
        whole: bool = False,
    ) -> AsyncIterator[Event]:
        """The events of a response from its start to its end, the Response kept in `builder` (`whole`: the
        answer is generated in one unary call, for a caller that wants only the end). Failures before any
        output raise (the caller answers with an error status); later ones end with response.failed."""
        generate = await self.generate_request(request, owner)
        steps = await self._steps(request, generate, whole)
        first = await _first(steps)  # a refused request fails here, before anything was sent
        if announce:
            for event in builder.started():
                yield event
        usage: types_pb2.Usage | None = None
        finish = inference_pb.FINISH_REASON_UNSPECIFIED
        run = getattr(steps, "search_run", None)
        try:
            async for step in _chain(first, steps):
                if isinstance(step, SearchStarted):
                    for event in builder.search_started(step.call):
                        yield event
                elif isinstance(step, SearchDone):
                    for event in builder.search_done(step.call):
                        yield event
                elif step.index == 0:
                    if step.HasField("usage"):
                        usage = step.usage
                    finish = step.finish_reason or finish
                    for event in builder.step(step):
                        yield event
        except JanError as error:
            log.warning("response failed after it began", extra={"response_id": builder.response["id"]})
            for event in builder.fail(error.message, failure_code(error)):
                yield event
            return
        incomplete = "max_output_tokens" if finish == inference_pb.FINISH_REASON_LENGTH else None
        text = (
            "".join(
                part["text"]
                for item in builder.response["output"]
                if item["type"] == "message"
                for part in item.get("content", [])
            )
            + builder.open_message_text()
        )
        citations = web_search.citations(text, run.sources) if run is not None else []
        for event in builder.finish(usage, incomplete_reason=incomplete, citations=citations):
            yield event

    async def _steps(self, request: ResponseRequest, generate: inference_pb.GenerateRequest, whole: bool) -> _Steps:
        if request.web_search is None:
            return _Steps(self._whole(generate) if whole else self._inference.generate(generate), None)
        run = web_search.SearchRun(request.web_search)
        chat = ChatRequest(generate=generate, web_search=request.web_search)
        loop = self._search_loop.bounded(request.max_tool_calls)
        tool_calling = (await self._completions.model(request.model)).tool_calling
        return _Steps(loop.steps(chat, tool_calling, run, force_search=request.force_search), run)

    async def _whole(self, generate: inference_pb.GenerateRequest) -> AsyncIterator[inference_pb.GenerateResponse]:
        yield (await self._inference.generate_whole(generate))[0]

    async def record(self, request: ResponseRequest, owner: Owner, response: dict[str, Any]) -> None:
        """Stores a foreground response once it ended and appends its turn to its conversation, in one
        statement: both or neither."""
        if request.conversation_id:
            stored = (
                stored_with_turn(response, request.input_items, request.previous_response_id) if request.store else None
            )
            await self.record_in_conversation(request, owner, response, also=stored)
        elif request.store:
            await self.store.create(
                response["id"],
                owner,
                status=response["status"],
                background=False,
                request={},
                response=response,
                previous_response_id=request.previous_response_id,
                conversation_id=request.conversation_id,
                input_items=request.input_items,
            )

    async def record_in_conversation(
        self, request: ResponseRequest, owner: Owner, response: dict[str, Any], also: AlsoInserted | None = None
    ) -> None:
        """Appends the response's turn (its input, then its output) to its conversation, with `also`."""
        if request.conversation_id:
            await self._conversations.record(owner, request.conversation_id, turn(request, response), also=also)

    async def create(
        self, params: pb.ResponseParams, owner: Owner, attribution: types_pb2.Attribution
    ) -> dict[str, Any]:
        request = self.parse(params, owner, attribution, stream=False)
        if request.background:
            return await self.enqueue(params, request, owner)
        builder = ResponseBuilder(new_id("resp"), request.echo, quiet=True)
        async for _ in self.run(request, owner, builder, whole=True):
            pass
        await self.record(request, owner, builder.response)
        return builder.response

    async def stream(
        self, params: pb.ResponseParams, owner: Owner, attribution: types_pb2.Attribution
    ) -> AsyncIterator[Event]:
        request = self.parse(params, owner, attribution, stream=True)
        if request.background:
            queued = await self.enqueue(params, request, owner)
            async for event in self.stored.follow(queued["id"], owner, -1):
                yield event
            return
        builder = ResponseBuilder(new_id("resp"), request.echo)
        ended = False
        try:
            async for event in self.run(request, owner, builder):
                ended = event["type"] in TERMINAL_EVENTS
                yield event
        finally:
            if not ended and builder.response["output"]:  # the client went away: keep what was made
                builder.response["status"] = "incomplete"
            if ended:
                await self.record(request, owner, builder.response)
            elif builder.response["output"]:  # cancelled: store without waiting, in a task of its own
                task = asyncio.create_task(self.record(request, owner, builder.response))
                self._recording.add(task)
                task.add_done_callback(self._recording.discard)

    async def drain(self) -> None:
        """Waits for streams cut short that are still being stored (at shutdown)."""
        if self._recording:
            await asyncio.gather(*self._recording, return_exceptions=True)

    # -- background -----------------------------------------------------------------------------------

    async def enqueue(self, params: pb.ResponseParams, request: ResponseRequest, owner: Owner) -> dict[str, Any]:
        await self._completions.model(request.model)  # an unknown model is refused now, not in the queue
        builder = ResponseBuilder(new_id("resp"), request.echo, status="queued")
        events = builder.started()
        await self.store.create(
            builder.response["id"],
            owner,
            status="queued",
            background=True,
            request=background_request(params, request.generate.attribution),
            response=builder.response,
            previous_response_id=request.previous_response_id,
            conversation_id=request.conversation_id,
            input_items=request.input_items,
            events=events,
        )
        await self.store.notify_queued(builder.response["id"])
        return builder.response


def background_request(params: pb.ResponseParams, attribution: types_pb2.Attribution) -> dict[str, Any]:
    """What a background response is run from: the create body and who it is counted against."""
    return {
        "params": json_format.MessageToDict(params, preserving_proto_field_name=True),
        "attribution": json_format.MessageToDict(attribution, preserving_proto_field_name=True),
    }


def run_request(stored: dict[str, Any]) -> ResponseRequest:
    """The request a background response runs (see background_request)."""
    request = parse(json_format.ParseDict(stored["params"], pb.ResponseParams()), stream=True)
    json_format.ParseDict(stored["attribution"], request.generate.attribution)
    return request


class _Steps:
    """A step source and, for web search, the run of searches it makes."""

    def __init__(self, source: AsyncIterator[Any], search_run: web_search.SearchRun | None) -> None:
        self._source = source
        self.search_run = search_run

    def __aiter__(self) -> _Steps:
        return self

    async def __anext__(self) -> Any:
        return await self._source.__anext__()


async def _first(steps: _Steps) -> Any | None:
    try:
        return await steps.__anext__()
    except StopAsyncIteration:
        return None


async def _chain(first: Any | None, rest: _Steps) -> AsyncIterator[Any]:
    if first is not None:
        yield first
        async for step in rest:
            yield step
