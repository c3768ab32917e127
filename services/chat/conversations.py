"""Stored conversations in the shape of OpenAI's Conversations API: a conversation belongs to the user who
created it, holds up to 16 metadata pairs and an ordered list of items (messages, function calls and
their outputs). Another user's conversation is NOT_FOUND, never forbidden: its existence is not revealed."""

from __future__ import annotations

from typing import Any

from services.chat.domain import Conversation, Item, Page, new_id
from services.chat.store import ConversationStore
from services.chat.validation import check_items, check_metadata, check_page
from services.common.errors import InvalidArgument, NotFound


def _conversation_not_found(conversation_id: str) -> NotFound:
    return NotFound(f"No conversation found with id '{conversation_id}'", param="conversation_id")


class Conversations:
    def __init__(self, store: ConversationStore) -> None:
        self._store = store

    async def create(
        self, user_id: str, project_id: str | None, metadata: dict[str, str], items: list[dict[str, Any]]
    ) -> Conversation:
        return await self._store.create(
            new_id("conv"), user_id, project_id, check_metadata(metadata), check_items(items)
        )

    async def get(self, user_id: str, conversation_id: str) -> Conversation:
        conversation = await self._store.get(conversation_id, user_id)
        if conversation is None:
            raise _conversation_not_found(conversation_id)
        return conversation

    async def list_conversations(self, user_id: str, limit: int, after: str, order: str) -> Page[Conversation]:
        size, newest_first = check_page(limit, order)
        return await self._store.list_conversations(user_id, size, after or None, newest_first)

    async def update(self, user_id: str, conversation_id: str, metadata: dict[str, str]) -> Conversation:
        conversation = await self._store.update(conversation_id, user_id, check_metadata(metadata))
        if conversation is None:
            raise _conversation_not_found(conversation_id)
        return conversation

    async def delete(self, user_id: str, conversation_id: str) -> None:
        if not await self._store.delete(conversation_id, user_id):
            raise _conversation_not_found(conversation_id)

    async def add_items(self, user_id: str, conversation_id: str, items: list[dict[str, Any]]) -> list[Item]:
        await self.get(user_id, conversation_id)
        if not items:
            raise InvalidArgument("items must not be empty", param="items")
        return await self._store.add_items(conversation_id, check_items(items))

    async def list_items(self, user_id: str, conversation_id: str, limit: int, after: str, order: str) -> Page[Item]:
        await self.get(user_id, conversation_id)
        size, newest_first = check_page(limit, order)
        return await self._store.list_items(conversation_id, size, after or None, newest_first)

    async def get_item(self, user_id: str, conversation_id: str, item_id: str) -> Item:
        await self.get(user_id, conversation_id)
        item = await self._store.get_item(conversation_id, item_id)
        if item is None:
            raise NotFound(f"No item found with id '{item_id}'", param="item_id")
        return item

    async def delete_item(self, user_id: str, conversation_id: str, item_id: str) -> Conversation:
        conversation = await self.get(user_id, conversation_id)
        if not await self._store.delete_item(conversation_id, item_id):
            raise NotFound(f"No item found with id '{item_id}'", param="item_id")
        return conversation
