"""gRPC servicer for jan.v1.ChatService: a thin layer that converts (convert.py) and calls domain code."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from google.api import httpbody_pb2

from jan.v1 import chat_service_pb2 as pb
from jan.v1 import chat_service_pb2_grpc
from services.chat import convert, openai_json
from services.chat.completions import ChatCompletions, new_completion_id
from services.chat.conversations import Conversations
from services.chat.domain import ChatRequest, StreamFailed, StreamHeader
from services.chat.validation import reject_unknown_fields
from services.common.errors import InvalidArgument, Unauthenticated
from services.common.identity import caller_from_metadata

BODY_KEYS_HEADER = "x-jan-body-keys"  # set by envoy/edge.lua: the top-level keys of the REST body
_JSON = "application/json"
_SSE = "text/event-stream"


def _chat_request(
    params: pb.ChatCompletionParams, context: grpc.aio.ServicerContext, completion_id: str, *, stream: bool
) -> ChatRequest:
    for key, value in context.invocation_metadata() or ():
        if key == BODY_KEYS_HEADER and isinstance(value, str):
            reject_unknown_fields(value.split(","), convert.PARAM_FIELDS)
    return convert.chat_request(params, completion_id, stream=stream)


def _owner(context: grpc.aio.ServicerContext) -> tuple[str, str | None]:
    """The calling user's id and project (if a project key was used): stored conversations belong to them."""
    caller = caller_from_metadata(context.invocation_metadata())
    if not caller.authenticated or not caller.user_id:
        raise Unauthenticated("conversations belong to a user: call through the gateway with credentials")
    return caller.user_id, caller.project_id


class ChatServicer(chat_service_pb2_grpc.ChatServiceServicer):
    def __init__(self, completions: ChatCompletions, conversations: Conversations) -> None:
        self._completions = completions
        self._conversations = conversations

    async def ListModels(
        self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(object="list", data=[convert.model(m) for m in await self._completions.models()])

    async def GetModel(self, request: pb.GetModelRequest, context: grpc.aio.ServicerContext) -> pb.Model:
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
        chat = _chat_request(params, context, completion_id, stream=False)
        return convert.completion_response(await self._completions.complete(chat, completion_id))

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
        header = StreamHeader(new_completion_id(), 0, params.model)
        chat = _chat_request(params, context, header.id, stream=True)
        header = StreamHeader(header.id, convert.now(), chat.model)
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
        user_id, project_id = _owner(context)
        conversation = await self._conversations.create(
            user_id, project_id, dict(request.metadata), convert.item_dicts(request.items)
        )
        return convert.conversation(conversation)

    async def ListConversations(
        self, request: pb.ListConversationsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListConversationsResponse:
        page = await self._conversations.list_conversations(
            _owner(context)[0], request.limit, request.after, request.order
        )
        return pb.ListConversationsResponse(
            data=[convert.conversation(c) for c in page.data],
            **convert.page_fields([c.id for c in page.data], page.has_more),
        )

    async def GetConversation(
        self, request: pb.GetConversationRequest, context: grpc.aio.ServicerContext
    ) -> pb.Conversation:
        return convert.conversation(await self._conversations.get(_owner(context)[0], request.conversation_id))

    async def UpdateConversation(
        self, request: pb.UpdateConversationRequest, context: grpc.aio.ServicerContext
    ) -> pb.Conversation:
        conversation = await self._conversations.update(
            _owner(context)[0], request.conversation_id, dict(request.metadata)
        )
        return convert.conversation(conversation)

    async def DeleteConversation(
        self, request: pb.DeleteConversationRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteConversationResponse:
        await self._conversations.delete(_owner(context)[0], request.conversation_id)
        return pb.DeleteConversationResponse(id=request.conversation_id, object="conversation.deleted", deleted=True)

    async def CreateConversationItems(
        self, request: pb.CreateConversationItemsRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateConversationItemsResponse:
        items = await self._conversations.add_items(
            _owner(context)[0], request.conversation_id, convert.item_dicts(request.items)
        )
        return pb.CreateConversationItemsResponse(
            data=[convert.item(i) for i in items], **convert.page_fields([i.id for i in items], False)
        )

    async def ListConversationItems(
        self, request: pb.ListConversationItemsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListConversationItemsResponse:
        page = await self._conversations.list_items(
            _owner(context)[0], request.conversation_id, request.limit, request.after, request.order
        )
        return pb.ListConversationItemsResponse(
            data=[convert.item(i) for i in page.data], **convert.page_fields([i.id for i in page.data], page.has_more)
        )

    async def GetConversationItem(
        self, request: pb.GetConversationItemRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConversationItem:
        item = await self._conversations.get_item(_owner(context)[0], request.conversation_id, request.item_id)
        return convert.item(item)

    async def DeleteConversationItem(
        self, request: pb.DeleteConversationItemRequest, context: grpc.aio.ServicerContext
    ) -> pb.Conversation:
        conversation = await self._conversations.delete_item(
            _owner(context)[0], request.conversation_id, request.item_id
        )
        return convert.conversation(conversation)
