"""Records of the chat service: a chat completion request as inference will run it, the events a streamed
completion emits, a whole completion, and stored conversations. No grpc.

Messages, tools, sampling and the generated steps are the jan.v1 messages the inference service speaks
(`GenerateRequest`, `GenerateResponse`): chat builds one from the OpenAI request and passes the other on,
with no vocabulary of its own in between.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from jan.v1 import inference_service_pb2 as inference_pb
from jan.v1 import types_pb2
from services.common.errors import JanError

T = TypeVar("T")

# -- chat completions -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebSearchOptions:
    """OpenAI's web_search_options, as a search needs them (web_search.py)."""

    results: int = 5  # results per search, by search_context_size
    snippet_chars: int = 400  # of each result, by search_context_size
    country: str | None = None  # ISO 3166-1 alpha-2, lower case (Serper's gl)
    location: str | None = None  # "City, Region, Country"


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """An OpenAI chat completion request that passed chat's checks, as the inference request it becomes,
    plus what only the OpenAI surface has (how the answer is delivered)."""

    generate: inference_pb.GenerateRequest
    n: int = 1  # how many choices
    include_usage: bool = False  # stream_options.include_usage: a last chunk with the usage
    parallel_tool_calls: bool = True  # false: at most one tool call per choice
    metadata: dict[str, str] = field(default_factory=dict)
    store: bool = False  # record the turn (input and answer) as items of `conversation_id`
    conversation_id: str | None = None  # the conversation replayed before the turn, and stored into
    new_conversation: bool = False  # conversation_id is new: created when the turn is stored
    owner: Owner | None = None  # the caller, when a conversation is involved
    new_items: list[NewItem] = field(default_factory=list)  # the turn's input as items, for `store`
    web_search: WebSearchOptions | None = None  # search the web for the answer (web_search_options)

    @property
    def model(self) -> str:
        return self.generate.model


@dataclass(frozen=True, slots=True)
class Citation:
    """A source the answer cites: the span [start, end) of the content that cites it."""

    start: int
    end: int
    url: str
    title: str


@dataclass(frozen=True, slots=True)
class Completion:
    """A whole completion: one answer per choice, in index order, and the usage of all."""

    id: str
    created: int
    model: str
    answers: list[inference_pb.GenerateResponse]
    usage: types_pb2.Usage | None
    citations: list[Citation] = field(default_factory=list)  # of the first answer (web search)


@dataclass(frozen=True, slots=True)
class StreamHeader:
    """What every chunk of one streamed completion repeats."""

    id: str
    created: int
    model: str


# What a streamed completion emits, in order: RoleStarted once per choice, then Generated steps and a
# ChoiceFinished per choice, then UsageCounted (when asked for); or StreamFailed once, after which nothing
# follows.


@dataclass(frozen=True, slots=True)
class RoleStarted:
    index: int


@dataclass(frozen=True, slots=True)
class Generated:
    """New content, reasoning, tool-call pieces or log probabilities of choice `step.index`."""

    step: inference_pb.GenerateResponse


@dataclass(frozen=True, slots=True)
class Cited:
    """The citations of choice `index`'s content, once it is complete (web search)."""

    index: int
    citations: list[Citation]


@dataclass(frozen=True, slots=True)
class ChoiceFinished:
    index: int
    finish_reason: str


@dataclass(frozen=True, slots=True)
class UsageCounted:
    usage: types_pb2.Usage


@dataclass(frozen=True, slots=True)
class StreamFailed:
    """The stream broke after it began (the HTTP status was already sent): OpenAI's in-band error."""

    error: JanError


StreamEvent = RoleStarted | Generated | Cited | ChoiceFinished | UsageCounted | StreamFailed


# -- conversations --------------------------------------------------------------------------------------


def new_id(prefix: str) -> str:
    """A stored object's id: OpenAI's prefix style (conv_, msg_, ...) and 128 random bits."""
    return f"{prefix}_{secrets.token_hex(16)}"


@dataclass(frozen=True, slots=True)
class Owner:
    """Whom stored conversations belong to: the calling user, within the project of the key they used (a
    session, which has no project, sees all of the user's conversations). A guest account's conversations
    hold fewer items (limits.py)."""

    user_id: str
    project_id: str | None = None
    guest: bool = False


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    created_at: int
    metadata: dict[str, str]
    title: str = ""


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    type: str
    created_at: int
    body: dict[str, Any] = field(default_factory=dict)  # the type's own fields (role, content, call_id, ...)


@dataclass(frozen=True, slots=True)
class NewItem:
    """An item checked and given its id, not yet stored."""

    id: str
    type: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    data: list[T]
    has_more: bool
