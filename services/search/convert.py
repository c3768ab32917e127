"""jan.v1 search protobuf ⇄ the search service's domain values (pure functions)."""

from __future__ import annotations

from typing import Any

from jan.v1 import search_service_pb2
from services.search.domain import ScrapeQuery, ScrapeResult, SearchQuery, SearchResult


def search_query_from_proto(request: search_service_pb2.SearchRequest) -> SearchQuery:
    def optional(name: str) -> Any:
        return getattr(request, name) if request.HasField(name) else None

    return SearchQuery(
        q=request.q,
        gl=optional("gl"),
        hl=optional("hl"),
        location=optional("location"),
        num=optional("num"),
        tbs=optional("tbs"),
        page=optional("page"),
        autocorrect=optional("autocorrect"),
    )


def search_response_to_proto(result: SearchResult) -> search_service_pb2.SearchResponse:
    response = search_service_pb2.SearchResponse(
        organic=[
            search_service_pb2.OrganicResult(
                title=r.title,
                link=r.link,
                snippet=r.snippet,
                date=r.date,
                position=r.position,
                sitelinks=[search_service_pb2.Sitelink(title=s.title, link=s.link) for s in r.sitelinks],
            )
            for r in result.organic
        ],
        people_also_ask=[
            search_service_pb2.PeopleAlsoAsk(question=p.question, snippet=p.snippet, title=p.title, link=p.link)
            for p in result.people_also_ask
        ],
        related_searches=result.related_searches,
        news=[
            search_service_pb2.NewsResult(title=n.title, link=n.link, source=n.source, date=n.date, snippet=n.snippet)
            for n in result.news
        ],
    )
    if result.answer_box:
        box = result.answer_box
        response.answer_box.CopyFrom(
            search_service_pb2.AnswerBox(title=box.title, answer=box.answer, snippet=box.snippet, link=box.link)
        )
    if result.knowledge_graph:
        kg = result.knowledge_graph
        response.knowledge_graph.CopyFrom(
            search_service_pb2.KnowledgeGraph(
                title=kg.title,
                type=kg.type,
                description=kg.description,
                website=kg.website,
                attributes=dict(kg.attributes),
            )
        )
    return response


def scrape_response_to_proto(result: ScrapeResult) -> search_service_pb2.ScrapeResponse:
    return search_service_pb2.ScrapeResponse(text=result.text, markdown=result.markdown, metadata=dict(result.metadata))


def scrape_query_from_proto(request: search_service_pb2.ScrapeRequest) -> ScrapeQuery:
    return ScrapeQuery(url=request.url, include_markdown=request.include_markdown)
