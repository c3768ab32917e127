"""Stored conversations in the shape of OpenAI's Conversations API: a conversation belongs to the user who
created it, holds up to 16 metadata pairs and an ordered list of items (messages, function calls and
their outputs). Another user's conversation is NOT_FOUND, never forbidden: its existence is not revealed."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from services.common.errors import InvalidArgument, NotFound

if TYPE_CHECKING:  # store.py imports this module's dataclasses
    from services.chat.store import PostgresConversationStore

MAX_METADATA_PAIRS = 16
MAX_ITEMS_PER_REQUEST = 20
_ITEM_ID_PREFIX = {"message": "msg", "function_call": "fc", "function_call_output": "fco"}
_MESSAGE_ROLES = ("user", "assistant", "system", "developer")
_CONTENT_TYPES = ("input_text", "output_text", "text", "reasoning_text", "refusal")


@dataclass(frozen=True)
class Conversation:
    id: str
    created_at: int
    metadata: dict[str, str]


@dataclass(frozen=True)
class Item:
    id: str
    type: str
    created_at: int
    body: dict[str, Any] = field(default_factory=dict)  # the type's own fields (role, content, call_id, ...)


@dataclass(frozen=True)
class Page:
    data: list[Any]
    has_more: bool


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(16)}"


def check_metadata(metadata: dict[str, str]) -> dict[str, str]:
    if len(metadata) > MAX_METADATA_PAIRS:
        raise InvalidArgument(f"metadata takes at most {MAX_METADATA_PAIRS} pairs", param="metadata")
    for key, value in metadata.items():
        if len(key) > 64 or len(value) > 512:
            raise InvalidArgument(
                "metadata keys are at most 64 characters and values at most 512", param=f"metadata.{key[:64]}"
            )
    return metadata


def check_page(limit: int, order: str) -> tuple[int, bool]:
    if order not in ("", "asc", "desc"):
        raise InvalidArgument("order must be 'asc' or 'desc'", param="order")
    if limit and not 1 <= limit <= 100:
        raise InvalidArgument("limit must be between 1 and 100", param="limit")
    return limit or 20, order != "asc"


def _check_item(item: dict[str, Any], param: str) -> tuple[str, str, dict[str, Any]]:
    kind = item.get("type") or "message"
    if kind not in _ITEM_ID_PREFIX:
        raise InvalidArgument(f"{param}.type must be one of {', '.join(_ITEM_ID_PREFIX)}", param=f"{param}.type")
    body = {k: v for k, v in item.items() if k not in ("id", "type", "created_at") and v not in (None, "", [])}
    if kind == "message":
        if body.get("role") not in _MESSAGE_ROLES:
            raise InvalidArgument(f"{param}.role must be one of {', '.join(_MESSAGE_ROLES)}", param=f"{param}.role")
        content = body.get("content")
        if not content:
            raise InvalidArgument(f"{param}.content is required", param=f"{param}.content")
        for j, part in enumerate(content):
            if part.get("type") not in _CONTENT_TYPES or not isinstance(part.get("text", part.get("refusal")), str):
                raise InvalidArgument(f"{param}.content[{j}] must be a text part", param=f"{param}.content[{j}]")
        body.setdefault("status", "completed")
    else:
        if not body.get("call_id"):
            raise InvalidArgument(f"{param}.call_id is required", param=f"{param}.call_id")
        needed = ("name", "arguments") if kind == "function_call" else ("output",)
        for name in needed:
            if not isinstance(body.get(name), str):
                raise InvalidArgument(f"{param}.{name} is required", param=f"{param}.{name}")
        body.setdefault("status", "completed")
    return new_id(_ITEM_ID_PREFIX[kind]), kind, body


def check_items(items: list[dict[str, Any]], param: str = "items") -> list[tuple[str, str, dict[str, Any]]]:
    if len(items) > MAX_ITEMS_PER_REQUEST:
        raise InvalidArgument(f"at most {MAX_ITEMS_PER_REQUEST} items per request", param=param)
    return [_check_item(item, f"{param}[{i}]") for i, item in enumerate(items)]


def _conversation_not_found(conversation_id: str) -> NotFound:
    return NotFound(f"No conversation found with id '{conversation_id}'", param="conversation_id")


class Conversations:
    def __init__(self, store: PostgresConversationStore) -> None:
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

    async def list(self, user_id: str, limit: int, after: str, order: str) -> Page:
        size, newest_first = check_page(limit, order)
        return await self._store.list(user_id, size, after or None, newest_first)

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

    async def list_items(self, user_id: str, conversation_id: str, limit: int, after: str, order: str) -> Page:
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
