"""Server-side web search for chat completions (OpenAI's `web_search_options`): the search tool the model is
given, the results as the model reads them, the sources they number, and the citations found in the answer.

A request with web_search_options always searches, as OpenAI's search models do. A model that can call
tools gets a `web_search` function and writes its own queries: the first step must call it, later steps
may, up to a set number of steps (the loop is in search_loop.py). A model that cannot call tools gets one
search on the user's question with the results put in its context. Either way the results are numbered
[1], [2], ... across the whole answer, the model is asked to cite them that way, and each [n] it writes
becomes an OpenAI url_citation annotation over that marker.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format, struct_pb2

from jan.v1 import search_service_pb2 as search_pb
from jan.v1 import types_pb2
from services.chat.domain import Citation, WebSearchOptions
from services.common.errors import InvalidArgument, JanError

TOOL_NAME = "web_search"
# The longest query a model may write by default (settings: JAN_WEB_SEARCH_MAX_QUERY_CHARS). The search service
# takes up to 2,048 characters; a good query is far shorter, and a model that rambles is cut here.
MAX_QUERY_CHARS = 256
RESULTS_BY_CONTEXT_SIZE = {"low": 3, "medium": 5, "high": 10}
SNIPPET_CHARS = {"low": 200, "medium": 400, "high": 800}
_MARKER = re.compile(r"\[(\d{1,3})\]")
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
INSTRUCTIONS = (
    "Use the web search results below to answer. Cite the sources you use with their numbers in square "
    "brackets, like [1] or [2]."
)


def search_request(options: WebSearchOptions, query: str) -> search_pb.SearchRequest:
    request = search_pb.SearchRequest(q=query, num=options.results)
    if options.country:
        request.gl = options.country
    if options.location:
        request.location = options.location
    return request


def parse_options(value: struct_pb2.Value) -> WebSearchOptions | None:
    """OpenAI's web_search_options (an object; null or absent: no search), checked by field."""
    kind = value.WhichOneof("kind")
    if kind in (None, "null_value"):
        return None
    if kind != "struct_value":
        raise InvalidArgument("web_search_options must be an object", param="web_search_options")
    options = json_format.MessageToDict(value)
    unknown = set(options) - {"search_context_size", "user_location"}
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidArgument(f"Unrecognized argument web_search_options.{name}", param=f"web_search_options.{name}")
    size = options.get("search_context_size") or "medium"
    if size not in RESULTS_BY_CONTEXT_SIZE:
        raise InvalidArgument(
            "web_search_options.search_context_size must be 'low', 'medium' or 'high'",
            param="web_search_options.search_context_size",
        )
    country, location = _location(options.get("user_location"))
    return WebSearchOptions(RESULTS_BY_CONTEXT_SIZE[size], SNIPPET_CHARS[size], country, location)


def _location(value: Any) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    param = "web_search_options.user_location"
    if not isinstance(value, dict) or value.get("type", "approximate") != "approximate":
        raise InvalidArgument(f'{param} must be {{"type": "approximate", "approximate": {{...}}}}', param=param)
    approximate = value.get("approximate") or {}
    if not isinstance(approximate, dict) or not all(isinstance(v, str) for v in approximate.values()):
        raise InvalidArgument(f"{param}.approximate must hold strings", param=f"{param}.approximate")
    country = approximate.get("country")
    if country is not None and not _COUNTRY.match(country):
        raise InvalidArgument(
            f"{param}.approximate.country must be a two-letter ISO country code", param=f"{param}.approximate.country"
        )
    place = [approximate.get(k) for k in ("city", "region")] + [country.upper() if country else None]
    location = ", ".join(p for p in place if p) or None
    return (country.lower() if country else None), location


def tool(max_query_chars: int) -> types_pb2.Tool:
    """The function a tool-calling model is given to search with; its query at most `max_query_chars`."""
    definition = types_pb2.Tool(type="function")
    definition.function.name = TOOL_NAME
    definition.function.description = (
        "Search the web. Use it for anything current, factual or specific; write a short, precise query."
    )
    definition.function.parameters.update(
        {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "The search query.", "maxLength": max_query_chars}
            },
            "required": ["query"],
            "additionalProperties": False,
        }
    )
    # Strict: vLLM's structural tag then pins the arguments to this schema, the query's length included.
    # Without it only the call's envelope is constrained and a weak model can write any JSON there (seen:
    # `[` nested until max_tokens).
    definition.function.strict = True
    return definition


def query_of(arguments: str) -> str:
    """The query a model's web_search call asks for; the raw arguments when they are not the expected JSON."""
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return arguments.strip()
    if isinstance(parsed, dict) and isinstance(parsed.get("query"), str):
        return parsed["query"].strip()
    return arguments.strip()


@dataclass
class Source:
    number: int
    url: str
    title: str


@dataclass
class SearchCall:
    """One search made for the answer: what a stored web_search_call item records."""

    query: str
    sources: list[Source] = field(default_factory=list)
    failed: bool = False


@dataclass
class SearchRun:
    """The searches of one answer: sources numbered across all of them, in the order they were found."""

    options: WebSearchOptions
    calls: list[SearchCall] = field(default_factory=list)

    @property
    def sources(self) -> list[Source]:
        return [s for call in self.calls for s in call.sources]

    def begin(self, query: str) -> SearchCall:
        call = SearchCall(query)
        self.calls.append(call)
        return call

    def record(self, query: str, result: search_pb.SearchResponse | JanError) -> str:
        """Notes a search and its outcome; returns the results as the model reads them."""
        return self.complete(self.begin(query), result)

    def complete(self, call: SearchCall, result: search_pb.SearchResponse | JanError) -> str:
        """Notes a search's outcome and returns the results as the model reads them."""
        query = call.query
        if isinstance(result, JanError):
            call.failed = True
            return f'Web search for "{query}" failed: {result.message}'
        snippet_chars = self.options.snippet_chars
        lines = [f'Web search results for "{query}":']
        if result.HasField("answer_box") and (result.answer_box.answer or result.answer_box.snippet):
            lines.append(f"Answer: {result.answer_box.answer or result.answer_box.snippet}")
        if result.HasField("knowledge_graph") and result.knowledge_graph.description:
            lines.append(f"{result.knowledge_graph.title}: {result.knowledge_graph.description}")
        number = len(self.sources)
        for organic in result.organic[: self.options.results]:
            number += 1
            call.sources.append(Source(number, organic.link, organic.title))
            lines.append(f"[{number}] {organic.title} ({organic.link})\n{organic.snippet[:snippet_chars]}")
        if not call.sources:
            lines.append("No results.")
        return "\n".join(lines)


def citations(content: str, sources: list[Source]) -> list[Citation]:
    """Each [n] in the answer that names a source, as a citation over that marker."""
    by_number = {s.number: s for s in sources}
    found = []
    for match in _MARKER.finditer(content):
        source = by_number.get(int(match.group(1)))
        if source is not None:
            found.append(Citation(match.start(), match.end(), source.url, source.title))
    return found


def context_message(results: str) -> types_pb2.ChatMessage:
    """For a model without tool calls: the results as a system message before the user's question."""
    message = types_pb2.ChatMessage(role="system")
    message.content.string_value = f"{INSTRUCTIONS}\n\n{results}"
    return message


def last_user_text(messages: Any) -> str:
    for message in reversed(messages):
        if message.role == "user":
            content = message.content
            if content.WhichOneof("kind") == "string_value":
                return content.string_value
            parts = json_format.MessageToDict(content) if content.WhichOneof("kind") == "list_value" else []
            return " ".join(p.get("text", "") for p in parts if isinstance(p, dict))
    return ""
