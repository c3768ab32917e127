"""All of the chat service's SQL (schema `chat`, see migrations/): conversations and their items
(conversations.py), stored responses, their items, events and the background queue (responses.py)."""

from services.chat.store.conversations import ConversationFull, ConversationStore, CursorNotFound
from services.chat.store.responses import ResponseStore

__all__ = ["ConversationFull", "ConversationStore", "CursorNotFound", "ResponseStore"]
