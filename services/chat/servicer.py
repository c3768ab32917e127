"""gRPC servicer for jan.v1.ChatService: a thin layer that converts (convert.py) and calls domain code."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
from google.api import httpbody_pb2
from google.protobuf import struct_pb2

from jan.v1 import chat_service_pb2 as pb
from jan.v1 import chat_service_pb2_grpc
from services.chat import convert, openai_json
from services.chat.completions import ChatCompletions, new_completion_id
from services.chat.controls import Governance
from services.chat.conversations import Conversations
from services.chat.domain import ChatRequest, Owner, StreamFailed, StreamHeader
from services.chat.limits import Limits
from services.chat.validation import check_include, reject_unknown_fields
from services.common.errors import InvalidArgument, NotFound, Unauthenticated
from services.common.identity import Caller, caller_from_metadata

BODY_KEYS_HEADER = "x-jan-body-keys"  # set by envoy/edge.lua: the top-level keys of the REST body
CONVERSATION_HEADER = "x-jan-conversation-id"  # the conversation a stored completion went into
_JSON = "application/json"
_SSE = "text/event-stream"


def check_body_keys(context: grpc.aio.ServicerContext, known: tuple[str, ...]) -> None:
    """A REST body's unknown top-level fields are refused by name (the transcoder would drop them)."""
    for key, value in context.invocation_metadata() or ():
        if key == BODY_KEYS_HEADER and isinstance(value, str):
            reject_unknown_fields(value.split(","), known)


def caller_of(context: grpc.aio.ServicerContext, identity_secret: bytes) -> Caller:
    """Who is calling: the identity ext_authz set, if its signature holds (else nobody)."""
    return caller_from_metadata(context.invocation_metadata(), identity_secret)


def owner_of(caller: Caller) -> Owner:
    """The caller, to whom stored conversations and responses belong (within the project of the key they
    used)."""
    owner = convert.owner(caller)
    if owner is None:
        raise Unauthenticated("stored conversations and responses belong to a user: call with credentials")
    return owner


def _stored_in(chat: ChatRequest) -> str | None:
    """The conversation the turn is stored in, if it is stored."""
    return chat.conversation_id if chat.store else None


async def _announce_conversation(context: grpc.aio.ServicerContext, conversation_id: str) -> None:
    """The stored conversation's id, as a response header (REST) and initial metadata (gRPC), before the
    answer: a stream's clients learn it at once."""
    await context.send_initial_metadata(((CONVERSATION_HEADER, conversation_id),))


class ChatServicer(chat_service_pb2_grpc.ChatServiceServicer):
    def __init__(
        self,
        completions: ChatCompletions,
        conversations: Conversations,
        identity_secret: bytes,
        limits: Limits,
        governance: Governance,
    ) -> None:
        self._completions = completions
        self._conversations = conversations
        self._identity_secret = identity_secret
        self._limits = limits
        self._governance = governance

    def _caller(self, context: grpc.aio.ServicerContext) -> Caller:
        return caller_of(context, self._identity_secret)

    def _owner(self, context: grpc.aio.ServicerContext, caller: Caller | None = None) -> Owner:
        return owner_of(caller or self._caller(context))

    def _chat_request(
        self,
        params: pb.ChatCompletionParams,
        context: grpc.aio.ServicerContext,
        caller: Caller,
        completion_id: str,
        *,
        stream: bool,
    ) -> ChatRequest:
        check_body_keys(context, convert.PARAM_FIELDS)
        limit = self._limits.output_tokens(caller.guest)
        chat = convert.chat_request(params, completion_id, stream=stream, max_output_tokens=limit, guest=caller.guest)
        chat.generate.attribution.CopyFrom(convert.attribution(caller))
        searching = "web_search_options" if chat.web_search is not None else None
        self._governance.admit(caller.project_id or "", chat.model, web_search_param=searching)
        return chat

    async def _with_conversation(
        self, chat: ChatRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> ChatRequest:
        if not chat.store and chat.conversation_id is None:
            return chat
        return await self._completions.with_conversation(chat, self._owner(context, caller))

    async def ListModels(
        self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListModelsResponse:
        project = self._caller(context).project_id or ""
        models = [m for m in await self._completions.models() if self._governance.allows_model(project, m.id)]
        return pb.ListModelsResponse(object="list", data=[convert.model(m) for m in models])

    async def GetModel(self, request: pb.GetModelRequest, context: grpc.aio.ServicerContext) -> pb.Model:
        if not self._governance.allows_model(self._caller(context).project_id or "", request.model):
            raise NotFound(f"The model '{request.model[:256]}' does not exist", param="model", code="model_not_found")
        return convert.model(await self._completions.model(request.model))

    async def _complete(
        self, params: pb.ChatCompletionParams, context: grpc.aio.ServicerContext
    ) -> pb.CreateChatCompletionResponse:
        if params.stream:
            raise InvalidArgument(
                "stream=true needs StreamChatCompletion (REST clients: POST /v1/chat/completions "
                "with stream true is routed there by the gateway)",
                param="stream",
            )
        completion_id = new_completion_id()
        caller = self._caller(context)
        chat = self._chat_request(params, context, caller, completion_id, stream=False)
        chat = await self._with_conversation(chat, context, caller)
        conversation_id = _stored_in(chat)
        if conversation_id is None:
            return convert.completion_response(await self._completions.complete(chat, completion_id))
        # The header goes out while the answer is generated (a unary client sees it with the answer anyway).
        announced = asyncio.ensure_future(_announce_conversation(context, conversation_id))
        try:
            completion = await self._completions.complete(chat, completion_id)
        finally:  # a failed announcement (the client left) must not hide the answer's own error
            await asyncio.gather(announced, return_exceptions=True)
        response = convert.completion_response(completion)
        response.conversation_id = conversation_id
        return response

    async def CreateChatCompletion(
        self, request: pb.CreateChatCompletionRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateChatCompletionResponse:
        return await self._complete(request.params, context)

    async def CreateChatCompletionJson(
        self, request: pb.CreateChatCompletionJsonRequest, context: grpc.aio.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        response = await self._complete(request.params, context)
        return httpbody_pb2.HttpBody(content_type=_JSON, data=openai_json.dumps(response))

    async def _chunks(
        self, params: pb.ChatCompletionParams, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[tuple[ChatRequest, pb.StreamChatCompletionResponse, bool]]:
        completion_id = new_completion_id()
        caller = self._caller(context)
        chat = self._chat_request(params, context, caller, completion_id, stream=True)
        chat = await self._with_conversation(chat, context, caller)
        if (conversation_id := _stored_in(chat)) is not None:
            await _announce_conversation(context, conversation_id)
        header = StreamHeader(completion_id, convert.now(), chat.model)
        async for event in self._completions.stream(chat):
            yield chat, convert.chunk(event, header), isinstance(event, StreamFailed)

    async def StreamChatCompletion(
        self, request: pb.StreamChatCompletionRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamChatCompletionResponse]:
        async for _, chunk, _ in self._chunks(request.params, context):
            yield chunk

    async def StreamChatCompletionEvents(
        self, request: pb.StreamChatCompletionEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[httpbody_pb2.HttpBody]:
        failed = False
        async for chat, chunk, ended_in_error in self._chunks(request.params, context):
            failed = ended_in_error
            yield httpbody_pb2.HttpBody(content_type=_SSE, data=convert.sse(chunk, include_usage=chat.include_usage))
        if not failed:  # after an in-band error the stream just ends, as OpenAI's does
            yield httpbody_pb2.HttpBody(content_type=_SSE, data=convert.SSE_DONE)

    async def CreateConversation(
        self, request: pb.CreateConversationRequest, context: grpc.aio.ServicerContext
    ) -> pb.Conversation:
        title = request.title if request.HasField("title") else None
        conversation = await self._conversations.create(
            self._owner(context), dict(request.metadata), convert.input_items(request.items), title
        )
        return convert.conversation(conversation)

    async def ListConversations(
        self, request: pb.ListConversationsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListConversationsResponse:
        limit = request.limit if request.HasField("limit") else None
        page = await self._conversations.list_conversations(self._owner(context), limit, request.after, request.order)
        ids = [c.id for c in page.data]
        return pb.ListConversationsResponse(
            object="list",
            data=[convert.conversation(c) for c in page.data],
            first_id=ids[0] if ids else "",
            last_id=ids[-1] if ids else "",
            has_more=page.has_more,
        )

    async def GetConversation(
        self, request: pb.GetConversationRequest, context: grpc.aio.ServicerContext
    ) -> pb.Conversation:
        return convert.conversation(await self._conversations.get(self._owner(context), request.conversation_id))

    async def UpdateConversation(
        self, request: pb.UpdateConversationRequest, context: grpc.aio.ServicerContext
    ) -> pb.Conversation:
        title = request.title if request.HasField("title") else None
        conversation = await self._conversations.update(
            self._owner(context), request.conversation_id, dict(request.metadata), title
        )
        return convert.conversation(conversation)

    async def DeleteConversation(
        self, request: pb.DeleteConversationRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteConversationResponse:
        await self._conversations.delete(self._owner(context), request.conversation_id)
        return pb.DeleteConversationResponse(id=request.conversation_id, object="conversation.deleted", deleted=True)

    async def CreateConversationItems(
        self, request: pb.CreateConversationItemsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConversationItemList:
        check_include(list(request.include))
        items = await self._conversations.add_items(
            self._owner(context), request.conversation_id, convert.input_items(request.items)
        )
        return convert.item_list(items, has_more=False)

    async def ListConversationItems(
        self, request: pb.ListConversationItemsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConversationItemList:
        limit = request.limit if request.HasField("limit") else None
        page = await self._conversations.list_items(
            self._owner(context), request.conversation_id, limit, request.after, request.order, list(request.include)
        )
        return convert.item_list(page.data, page.has_more)

    async def GetConversationItem(
        self, request: pb.GetConversationItemRequest, context: grpc.aio.ServicerContext
    ) -> struct_pb2.Struct:
        item = await self._conversations.get_item(
            self._owner(context), request.conversation_id, request.item_id, list(request.include)
        )
        return convert.item(item)

    async def DeleteConversationItem(
        self, request: pb.DeleteConversationItemRequest, context: grpc.aio.ServicerContext
    ) -> pb.Conversation:
        conversation = await self._conversations.delete_item(
            self._owner(context), request.conversation_id, request.item_id
        )
        return convert.conversation(conversation)
