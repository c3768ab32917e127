"""Serper's JSON wire format: the request bodies we send and the parsing of its answers into domain values.

Parsing is lenient: Serper adds and drops sections by query (answerBox, knowledgeGraph, topStories, ...), so a
missing section is empty, a field of the wrong type reads as empty, and unknown keys are ignored. Only an
answer that is not a JSON object at all is an error (the client checks that).
"""

from __future__ import annotations

import json
from typing import Any

from services.search.domain import (
    AnswerBox,
    KnowledgeGraph,
    NewsResult,
    OrganicResult,
    PeopleAlsoAsk,
    ScrapeQuery,
    ScrapeResult,
    SearchQuery,
    SearchResult,
    Sitelink,
    frozen_mapping,
)


def search_payload(query: SearchQuery) -> dict[str, Any]:
    """The search request body: q plus the parameters the caller gave (Serper's defaults cover the rest)."""
    payload: dict[str, Any] = {"q": query.q}
    for name in ("gl", "hl", "location", "num", "tbs", "page", "autocorrect"):
        value = getattr(query, name)
        if value is not None:
            payload[name] = value
    return payload


def scrape_payload(query: ScrapeQuery) -> dict[str, Any]:
    return {"url": query.url, "includeMarkdown": query.include_markdown}


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value)


def _flat(value: Any) -> str:
    """A metadata or attribute value as one string: lists joined, objects as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(_flat(v) for v in value if v is not None)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): _flat(v) for k, v in value.items() if v is not None}


def _position(value: Any, fallback: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else fallback


def _organic(items: list[dict[str, Any]]) -> tuple[OrganicResult, ...]:
    results: list[OrganicResult] = []
    for item in items:
        link = _text(item.get("link"))
        if not link:
            continue
        results.append(
            OrganicResult(
                title=_text(item.get("title")),
                link=link,
                snippet=_text(item.get("snippet")),
                position=_position(item.get("position"), len(results) + 1),
                date=_text(item.get("date")) or None,
                sitelinks=tuple(
                    Sitelink(title=_text(s.get("title")), link=_text(s.get("link")))
                    for s in _objects(item.get("sitelinks"))
                    if _text(s.get("link"))
                ),
            )
        )
    return tuple(results)


def _answer_box(value: Any) -> AnswerBox | None:
    if not isinstance(value, dict):
        return None
    box = AnswerBox(
        title=_text(value.get("title")),
        answer=_text(value.get("answer")),
        snippet=_text(value.get("snippet")),
        link=_text(value.get("link")),
    )
    return box if box.answer or box.snippet else None


def _knowledge_graph(value: Any) -> KnowledgeGraph | None:
    if not isinstance(value, dict) or not _text(value.get("title")):
        return None
    return KnowledgeGraph(
        title=_text(value.get("title")),
        type=_text(value.get("type")),
        description=_text(value.get("description")),
        website=_text(value.get("website")),
        attributes=frozen_mapping(_string_map(value.get("attributes"))),
    )


def _related(value: Any) -> tuple[str, ...]:
    queries = []
    for item in value if isinstance(value, list) else []:
        text = _text(item.get("query")) if isinstance(item, dict) else _text(item)
        if text:
            queries.append(text)
    return tuple(queries)


def parse_search(body: dict[str, Any]) -> SearchResult:
    return SearchResult(
        organic=_organic(_objects(body.get("organic"))),
        answer_box=_answer_box(body.get("answerBox")),
        knowledge_graph=_knowledge_graph(body.get("knowledgeGraph")),
        people_also_ask=tuple(
            PeopleAlsoAsk(
                question=_text(p.get("question")),
                snippet=_text(p.get("snippet")),
                title=_text(p.get("title")),
                link=_text(p.get("link")),
            )
            for p in _objects(body.get("peopleAlsoAsk"))
            if _text(p.get("question"))
        ),
        related_searches=_related(body.get("relatedSearches")),
        news=tuple(
            NewsResult(
                title=_text(n.get("title")),
                link=_text(n.get("link")),
                source=_text(n.get("source")),
                date=_text(n.get("date")),
                snippet=_text(n.get("snippet")),
            )
            for n in _objects(body.get("topStories") or body.get("news"))
            if _text(n.get("link"))
        ),
    )


def parse_scrape(body: dict[str, Any], include_markdown: bool) -> ScrapeResult:
    markdown = body.get("markdown") if include_markdown else None
    return ScrapeResult(
        text=_text(body.get("text")),
        markdown=markdown if isinstance(markdown, str) else None,
        metadata=frozen_mapping(_string_map(body.get("metadata"))),
    )
