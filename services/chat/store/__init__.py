"""All of the chat service's SQL (schema `chat`, see migrations/): conversations and their items
(conversations.py), stored responses, their items, events and the background queue (responses.py)."""

from services.chat.store.conversations import AlsoInserted, ConversationFull, ConversationStore, CursorNotFound
from services.chat.store.responses import ResponseStore, finished_with_turn, stored_with_turn

__all__ = [
    "AlsoInserted",
    "ConversationFull",
    "ConversationStore",
    "CursorNotFound",
    "ResponseStore",
    "finished_with_turn",
    "stored_with_turn",
]
