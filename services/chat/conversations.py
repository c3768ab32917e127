"""Stored conversations in the shape of OpenAI's Conversations API, and what chat completions need of them
(history to replay, a place to record a turn).

A conversation belongs to its owner (user, and project when made with a project key). Another caller's
conversation or item is NOT_FOUND, never forbidden: its existence is not revealed. Items have a size limit
and conversations an item limit (limits.py; lower for guests): over either is a 400 naming the field.
"""

from __future__ import annotations

from typing import Any

from services.chat import items as item_shapes
from services.chat.domain import Conversation, Item, NewItem, Owner, Page, new_id
from services.chat.limits import SIGN_UP, Limits
from services.chat.store import AlsoInserted, ConversationFull, ConversationStore, CursorNotFound
from services.chat.validation import check_include, check_item_count, check_metadata, check_page
from services.common.errors import InvalidArgument, NotFound

TITLE_CHARS = 80


def _not_found(conversation_id: str) -> NotFound:
    return NotFound(f"No conversation found with id '{conversation_id[:64]}'", param="conversation_id")


def _item_not_found(item_id: str) -> NotFound:
    return NotFound(f"No item found with id '{item_id[:64]}'", param="item_id")


def title_from(items: list[NewItem]) -> str:
    """The start of the first user message, on one line."""
    for item in items:
        if item.type == "message" and item.body.get("role") == "user":
            text = " ".join(" ".join(p.get("text", "") for p in item.body.get("content", [])).split())
            return text[:TITLE_CHARS]
    return ""


def check_title(title: str) -> str:
    title = " ".join(title.split())
    if len(title) > 512:
        raise InvalidArgument("title is at most 512 characters", param="title")
    return title


def _full(owner: Owner, limit: int, param: str) -> InvalidArgument:
    whose, after = (" for guest accounts", f" {SIGN_UP}") if owner.guest else ("", "")
    return InvalidArgument(
        f"conversation is full: it may hold at most {limit} items{whose}. Delete items or start a new "
        f"conversation.{after}",
        param=param,
        code="conversation_full",
        over_limit="conversation_items",
        guest_limit=owner.guest,
    )


class Conversations:
    def __init__(self, store: ConversationStore, limits: Limits | None = None) -> None:
        self._store = store
        self.limits = limits or Limits()

    def _input_items(self, items: list[dict[str, Any]]) -> list[NewItem]:
        """Items a caller sent, checked (shape and size) and given their ids."""
        check_item_count(len(items))
        checked = []
        for i, item in enumerate(items):
            new_item = item_shapes.check_input_item(item, f"items[{i}]")
            checked.append(item_shapes.check_size(new_item, self.limits.max_item_bytes, f"items[{i}]"))
        return checked

    def check_turn(self, owner: Owner, items: list[NewItem], held: int = 0) -> list[NewItem]:
        """A stored completion's input items, checked before anything is generated: each within the item size,
        and room in the conversation (holding `held` items) for them and an answer."""
        for item in items:
            item_shapes.check_size(item, self.limits.max_item_bytes, "messages")
        limit = self.limits.conversation_items(owner.guest)
        if held + len(items) + 1 > limit:
            raise _full(owner, limit, "conversation")
        return items

    async def create(
        self, owner: Owner, metadata: dict[str, str], items: list[dict[str, Any]], title: str | None = None
    ) -> Conversation:
        new_items = self._input_items(items)
        limit = self.limits.conversation_items(owner.guest)
        if len(new_items) > limit:
            raise _full(owner, limit, "items")
        check_metadata(metadata)
        title = check_title(title) if title else title_from(new_items)
        return await self._store.create(new_id("conv"), owner, title, metadata, new_items)

    async def get(self, owner: Owner, conversation_id: str) -> Conversation:
        conversation = await self._store.get(conversation_id, owner)
        if conversation is None:
            raise _not_found(conversation_id)
        return conversation

    async def list_conversations(self, owner: Owner, limit: int | None, after: str, order: str) -> Page[Conversation]:
        size, newest_first = check_page(limit, order)
        try:
            return await self._store.list_conversations(owner, size, after or None, newest_first)
        except CursorNotFound:
            raise InvalidArgument(f"after names no conversation of yours: '{after[:64]}'", param="after") from None

    async def update(
        self, owner: Owner, conversation_id: str, metadata: dict[str, str], title: str | None = None
    ) -> Conversation:
        check_metadata(metadata)
        conversation = await self._store.update(
            conversation_id, owner, metadata, check_title(title) if title is not None else None
        )
        if conversation is None:
            raise _not_found(conversation_id)
        return conversation

    async def delete(self, owner: Owner, conversation_id: str) -> None:
        if not await self._store.delete(conversation_id, owner):
            raise _not_found(conversation_id)

    async def add_items(self, owner: Owner, conversation_id: str, items: list[dict[str, Any]]) -> list[Item]:
        if not items:
            raise InvalidArgument("items must not be empty", param="items")
        return await self.record(owner, conversation_id, self._input_items(items), param="items")

    async def list_items(
        self, owner: Owner, conversation_id: str, limit: int | None, after: str, order: str, include: list[str]
    ) -> Page[Item]:
        size, newest_first = check_page(limit, order)
        check_include(include)
        await self.get(owner, conversation_id)
        after_seq = None
        if after:
            after_seq = await self._store.item_seq(conversation_id, after)
            if after_seq is None:
                raise InvalidArgument(f"after names no item of this conversation: '{after[:64]}'", param="after")
        return await self._store.list_items(conversation_id, size, after_seq, newest_first)

    async def get_item(self, owner: Owner, conversation_id: str, item_id: str, include: list[str]) -> Item:
        check_include(include)
        await self.get(owner, conversation_id)
        item = await self._store.get_item(conversation_id, item_id)
        if item is None:
            raise _item_not_found(item_id)
        return item

    async def delete_item(self, owner: Owner, conversation_id: str, item_id: str) -> Conversation:
        conversation = await self.get(owner, conversation_id)
        if not await self._store.delete_item(conversation_id, item_id):
            raise _item_not_found(item_id)
        return conversation

    # -- for chat completions ---------------------------------------------------------------------------

    async def history(self, owner: Owner, conversation_id: str, budget_bytes: int) -> tuple[list[Item], int]:
        """The items to replay before a new turn (see ConversationStore.history), and how many items the
        conversation holds."""
        history = await self._store.history(conversation_id, owner, budget_bytes)
        if history is None:
            raise _not_found(conversation_id)
        return history

    async def record(
        self,
        owner: Owner,
        conversation_id: str,
        items: list[NewItem],
        param: str = "conversation",
        also: AlsoInserted | None = None,
    ) -> list[Item]:
        """Appends a turn's items at the end, in one statement with `also`'s insert (refused when the
        conversation is full: then neither is written)."""
        limit = self.limits.conversation_items(owner.guest)
        try:
            stored = await self._store.append(conversation_id, owner, items, limit, also)
        except ConversationFull:
            raise _full(owner, limit, param) from None
        if stored is None:
            raise _not_found(conversation_id)
        return stored

    async def record_new(self, owner: Owner, conversation_id: str, items: list[NewItem]) -> None:
        """Stores a first turn as a new conversation with the id announced when the turn began (created only
        now, so a request refused before it generated anything leaves no empty conversation behind)."""
        limit = self.limits.conversation_items(owner.guest)
        if len(items) > limit:
            raise _full(owner, limit, "conversation")
        await self._store.create(conversation_id, owner, title_from(items), {}, items)
