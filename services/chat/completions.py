"""Chat completions over the inference service: whole answers, streams as typed events, the model list, and
the turns that go through a stored conversation.

The stream's order is a small state machine: the role of every choice once the first step arrives, then
each step's new content as it comes (choices interleaved, told apart by index), a finish per choice, and
the usage once at the end when asked for. A failure before the first step raises (the caller answers with
an error status); after it the stream ends with StreamFailed, since the HTTP status has been sent.

With `conversation`, the conversation's items are replayed before the request's messages (the new turn),
read newest first within a byte budget and cut to the context by the inference service (oldest turns first,
system messages kept). With `store`, the turn (its input and the answer) is appended to the conversation,
a new one when none is named, in one short transaction once the answer is complete. An answer cut short (a
failure, or a client that went away) is stored as far as it got, with status incomplete.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Protocol

from jan.v1 import inference_service_pb2 as inference_pb
from jan.v1 import types_pb2
from services.chat import items as item_shapes
from services.chat import web_search
from services.chat.conversations import Conversations
from services.chat.domain import (
    ChatRequest,
    ChoiceFinished,
    Cited,
    Completion,
    Generated,
    Owner,
    RoleStarted,
    StreamEvent,
    StreamFailed,
    UsageCounted,
    new_id,
)
from services.chat.search_loop import SearchDone, SearchLoop, SearchStarted
from services.common.errors import JanError, NotFound, Unauthenticated, Unavailable
from services.common.generation import FINISH_REASON_NAMES, join_answers

log = logging.getLogger(__name__)
_MODELS_TTL_SECONDS = 5.0
# History is read up to this many bytes of stored item JSON per token of context: more than any tokenizer
# packs into a token, so what is read covers what fits; the inference service then cuts it exactly.
HISTORY_BYTES_PER_TOKEN = 16


class Inference(Protocol):
    """The inference service as chat uses it (inference_client.InferenceClient; fakes in tests)."""

    async def list_models(self) -> list[inference_pb.ServedModel]: ...

    def generate(self, request: inference_pb.GenerateRequest) -> AsyncIterator[inference_pb.GenerateResponse]: ...

    async def generate_whole(self, request: inference_pb.GenerateRequest) -> list[inference_pb.GenerateResponse]: ...


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def clean_start(messages: list[types_pb2.ChatMessage]) -> list[types_pb2.ChatMessage]:
    """History read newest first may begin inside a turn (a tool result whose call was not read): keep the
    leading instructions, then begin at the first user message."""
    instructions = [m for m in messages if m.role in ("system", "developer")]
    rest = [m for m in messages if m.role not in ("system", "developer")]
    first_user = next((i for i, m in enumerate(rest) if m.role == "user"), len(rest))
    return instructions + rest[first_user:]


class ChatCompletions:
    def __init__(
        self, inference: Inference, conversations: Conversations, search_loop: SearchLoop | None = None
    ) -> None:
        self._inference = inference
        self._conversations = conversations
        self._search_loop = search_loop
        self._models: list[inference_pb.ServedModel] = []
        self._models_at = 0.0
        self._recording: set[asyncio.Task[None]] = set()  # turns cut short, stored in the background

    async def models(self) -> list[inference_pb.ServedModel]:
        """The served models, cached for a few seconds (clients poll this)."""
        if time.monotonic() - self._models_at > _MODELS_TTL_SECONDS:
            self._models = await self._inference.list_models()
            self._models_at = time.monotonic()
        return self._models

    async def model(self, model_id: str) -> inference_pb.ServedModel:
        for served in await self.models():
            if served.id == model_id:
                return served
        raise NotFound(f"The model '{model_id}' does not exist", param="model", code="model_not_found")

    # -- conversations ----------------------------------------------------------------------------------

    async def with_conversation(self, request: ChatRequest, owner: Owner | None) -> ChatRequest:
        """The request with its conversation's history in front and, with store, the conversation it will be
        stored in (a new one's id is chosen now, so it can be announced before the answer)."""
        if not request.store and request.conversation_id is None:
            return request
        if owner is None:
            raise Unauthenticated("stored conversations belong to a user: call with credentials")
        new_items = item_shapes.from_chat_messages(request.generate.messages) if request.store else []
        conversation_id = request.conversation_id
        generate = request.generate
        held = 0
        if conversation_id is not None:
            model = await self.model(request.model)
            history, held = await self._conversations.history(
                owner, conversation_id, model.max_model_len * HISTORY_BYTES_PER_TOKEN
            )
            replayed = clean_start(item_shapes.to_chat_messages([(i.type, i.body) for i in history]))
            generate = inference_pb.GenerateRequest()
            generate.CopyFrom(request.generate)
            del generate.messages[:]
            generate.messages.extend([*replayed, *request.generate.messages])
            generate.truncatable_messages = len(replayed)
        if request.store:  # refused now, before anything is generated, rather than when the turn is stored
            self._conversations.check_turn(owner, new_items, held)
        return dataclasses.replace(
            request,
            generate=generate,
            conversation_id=conversation_id or new_id("conv"),
            new_conversation=conversation_id is None,
            owner=owner,
            new_items=new_items,
        )

    async def _record(
        self,
        request: ChatRequest,
        answer: inference_pb.GenerateResponse,
        *,
        complete: bool,
        run: web_search.SearchRun | None = None,
    ) -> None:
        if not request.store or request.owner is None or request.conversation_id is None:
            return
        searches = [
            item_shapes.web_search_call_item(c.query, [s.url for s in c.sources], c.failed)
            for c in (run.calls if run else [])
        ]
        turn = [*request.new_items, *searches, *item_shapes.from_answer(answer, complete=complete)]
        if request.new_conversation:
            await self._conversations.record_new(request.owner, request.conversation_id, turn)
        else:
            await self._conversations.record(request.owner, request.conversation_id, turn)

    def _record_in_background(
        self, request: ChatRequest, steps: list[inference_pb.GenerateResponse], run: web_search.SearchRun | None
    ) -> None:
        """Stores a turn cut short without waiting: the task that would wait is being cancelled."""
        if not request.store:
            return
        task = asyncio.create_task(self._record(request, join_answers(steps)[0], complete=False, run=run))
        self._recording.add(task)
        task.add_done_callback(self._recording.discard)
        task.add_done_callback(_log_failure)

    async def drain(self) -> None:
        """Waits for turns still being stored (at shutdown)."""
        if self._recording:
            await asyncio.gather(*self._recording, return_exceptions=True)

    # -- completions ------------------------------------------------------------------------------------

    async def complete(self, request: ChatRequest, completion_id: str) -> Completion:
        run = await self._search_run(request)
        if run is not None:
            answers = [await self._searching().whole(request, await self._tool_calling(request), run)]
        else:
            answers = await self._inference.generate_whole(request.generate)
        if not request.parallel_tool_calls:
            for answer in answers:
                del answer.tool_calls[1:]
        usage = answers[0].usage if answers and answers[0].HasField("usage") else None
        await self._record(request, answers[0], complete=True, run=run)
        citations = web_search.citations(answers[0].content, run.sources) if run else []
        return Completion(completion_id, int(time.time()), request.model, answers, usage, citations)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        run = await self._search_run(request)
        if run is not None:
            steps = self._searching().steps(request, await self._tool_calling(request), run)
        else:
            steps = self._inference.generate(request.generate)
        kept: list[inference_pb.GenerateResponse] = []  # the answer so far, when it is stored or cited
        failed = False
        try:
            async for event in self._events(request, steps, kept if request.store or run else None, run):
                failed = failed or isinstance(event, StreamFailed)
                yield event
        except (asyncio.CancelledError, GeneratorExit):
            self._record_in_background(request, kept, run)
            raise
        try:
            await self._record(request, join_answers(kept)[0], complete=not failed, run=run)
        except JanError as error:
            if not failed:
                yield StreamFailed(Unavailable(f"the answer was not stored: {error.message}"))

    async def _search_run(self, request: ChatRequest) -> web_search.SearchRun | None:
        return web_search.SearchRun(request.web_search) if request.web_search is not None else None

    def _searching(self) -> SearchLoop:
        if self._search_loop is None:
            raise Unavailable("web search is not configured on this server", param="web_search_options")
        return self._search_loop

    async def _tool_calling(self, request: ChatRequest) -> bool:
        return (await self.model(request.model)).tool_calling

    async def _events(
        self,
        request: ChatRequest,
        steps: AsyncIterator[inference_pb.GenerateResponse | SearchStarted | SearchDone],
        kept: list[inference_pb.GenerateResponse] | None,
        run: web_search.SearchRun | None,
    ) -> AsyncIterator[StreamEvent]:
        started = False
        try:
            async for step in steps:
                if not isinstance(step, inference_pb.GenerateResponse):
                    continue  # a web search's progress: chat completions show only the answer
                if not started:
                    started = True
                    for index in range(request.n):
                        yield RoleStarted(index)
                if not request.parallel_tool_calls and any(piece.index > 0 for piece in step.tool_calls):
                    kept_pieces = [piece for piece in step.tool_calls if piece.index == 0]
                    del step.tool_calls[:]
                    step.tool_calls.extend(kept_pieces)
                if step.content or step.reasoning_content or step.tool_calls or step.logprobs:
                    if kept is not None:
                        kept.append(step)
                    yield Generated(step)
                if step.finish_reason:
                    if run is not None and step.index == 0 and kept is not None:
                        found = web_search.citations("".join(s.content for s in kept if s.index == 0), run.sources)
                        if found:
                            yield Cited(0, found)
                    yield ChoiceFinished(step.index, FINISH_REASON_NAMES[step.finish_reason])
                if request.include_usage and step.HasField("usage"):
                    yield UsageCounted(step.usage)
        except JanError as error:
            if not started:
                raise
            log.warning("stream failed after it began", extra={"request_id": request.generate.request_id})
            yield StreamFailed(error)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("storing a turn that was cut short failed", exc_info=task.exception())
