"""Fitting replayed history into the context: which earlier messages may go, oldest turn first.

A request marks its first `truncatable_messages` messages as earlier history (a stored conversation the chat
service replays). When the prompt would not fit, turns are dropped from the oldest: a cut is made only where
a user message begins (or after the whole history), so an assistant's tool calls and their results go
together; system and developer messages are always kept. The engine tries the cuts with its own tokenizer
(fewest dropped first, by bisection); the instant engine with its rough count.
"""

from __future__ import annotations

from jan.v1 import inference_service_pb2 as pb

_INSTRUCTIONS = ("system", "developer")
# Without max_tokens, a cut leaves room for an answer of this share of the context (at most ANSWER_ROOM_MAX).
ANSWER_ROOM_SHARE = 4
ANSWER_ROOM_MAX = 1024


def cut_points(request: pb.GenerateRequest) -> list[int]:
    """Where history may be cut, fewest messages dropped first: dropping every non-instruction message
    before the returned index. Empty when nothing may be dropped."""
    history = min(request.truncatable_messages, len(request.messages))
    turns = [i for i in range(history) if request.messages[i].role == "user"]
    first_droppable = next((i for i in range(history) if request.messages[i].role not in _INSTRUCTIONS), None)
    if first_droppable is None:
        return []
    return [i for i in turns if i > first_droppable] + [history]


def without_history_before(request: pb.GenerateRequest, cut: int) -> pb.GenerateRequest:
    """The request with the history before `cut` dropped, its instructions kept."""
    shorter = pb.GenerateRequest()
    shorter.CopyFrom(request)
    del shorter.messages[:]
    kept = [m for m in request.messages[:cut] if m.role in _INSTRUCTIONS]
    shorter.messages.extend([*kept, *request.messages[cut:]])
    shorter.truncatable_messages = max(0, request.truncatable_messages - cut) + len(kept)
    return shorter


def answer_room(max_model_len: int, max_tokens: int | None) -> int:
    """Tokens a cut must leave for the answer."""
    if max_tokens is not None:
        return max_tokens
    return min(max_model_len // ANSWER_ROOM_SHARE, ANSWER_ROOM_MAX)
