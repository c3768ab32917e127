"""What the search service asks for and gets back, as plain immutable values.

Results are frozen (tuples and read-only mappings) because one cached value is handed to many callers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class SearchQuery:
    """A web search with Serper's parameters; None means "not given" (Serper's default applies)."""

    q: str
    gl: str | None = None
    hl: str | None = None
    location: str | None = None
    num: int | None = None
    tbs: str | None = None
    page: int | None = None
    autocorrect: bool | None = None


@dataclass(frozen=True)
class ScrapeQuery:
    url: str
    include_markdown: bool = False


@dataclass(frozen=True)
class Sitelink:
    title: str
    link: str


@dataclass(frozen=True)
class OrganicResult:
    title: str
    link: str
    snippet: str
    position: int
    date: str | None = None
    sitelinks: tuple[Sitelink, ...] = ()


@dataclass(frozen=True)
class AnswerBox:
    title: str
    answer: str
    snippet: str
    link: str


@dataclass(frozen=True)
class KnowledgeGraph:
    title: str
    type: str
    description: str
    website: str
    attributes: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True)
class PeopleAlsoAsk:
    question: str
    snippet: str
    title: str
    link: str


@dataclass(frozen=True)
class NewsResult:
    title: str
    link: str
    source: str
    date: str
    snippet: str


@dataclass(frozen=True)
class SearchResult:
    organic: tuple[OrganicResult, ...] = ()
    answer_box: AnswerBox | None = None
    knowledge_graph: KnowledgeGraph | None = None
    people_also_ask: tuple[PeopleAlsoAsk, ...] = ()
    related_searches: tuple[str, ...] = ()
    news: tuple[NewsResult, ...] = ()

    def approx_size(self) -> int:
        """Roughly the characters this result holds, for the cache's size budget."""
        size = sum(len(r.title) + len(r.link) + len(r.snippet) + 64 for r in self.organic)
        size += sum(len(p.question) + len(p.snippet) + len(p.title) + len(p.link) for p in self.people_also_ask)
        size += sum(len(s) for s in self.related_searches)
        size += sum(len(n.title) + len(n.link) + len(n.source) + len(n.snippet) + 64 for n in self.news)
        if self.answer_box:
            size += len(self.answer_box.answer) + len(self.answer_box.snippet) + 128
        if self.knowledge_graph:
            kg = self.knowledge_graph
            size += len(kg.description) + sum(len(k) + len(v) for k, v in kg.attributes.items()) + 128
        return size + 256


@dataclass(frozen=True)
class ScrapeResult:
    text: str
    markdown: str | None = None
    metadata: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    def approx_size(self) -> int:
        return len(self.text) + len(self.markdown or "") + sum(len(k) + len(v) for k, v in self.metadata.items())


def frozen_mapping(values: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(values)) if values else _EMPTY
