"""Serper's wire format: request bodies and lenient parsing of its answers (pure)."""

from __future__ import annotations

import pytest

from services.search.domain import SearchQuery
from services.search.serper_wire import parse_scrape, parse_search, search_payload
from tests.support.fake_serper import scrape_body, search_body


def test_payload_sends_only_what_was_given_with_serpers_names() -> None:
    assert search_payload(SearchQuery(q="a")) == {"q": "a"}
    full = SearchQuery(
        q="a", gl="de", hl="de", location="Berlin, Germany", num=20, tbs="qdr:d", page=2, autocorrect=False
    )
    assert search_payload(full) == {
        "q": "a",
        "gl": "de",
        "hl": "de",
        "location": "Berlin, Germany",
        "num": 20,
        "tbs": "qdr:d",
        "page": 2,
        "autocorrect": False,
    }


def test_full_answer_is_parsed() -> None:
    result = parse_search(search_body({"q": "apple inc", "num": 3}))
    assert [r.position for r in result.organic] == [1, 2, 3]
    first = result.organic[0]
    assert first.title == "apple inc - result 1" and first.link == "https://example.com/apple-inc/1"
    assert first.snippet.startswith("Result 1") and first.date is None
    assert [s.title for s in first.sitelinks] == ["About", "Contact"]
    assert result.organic[2].date == "Mar 3, 2025"
    assert result.answer_box and result.answer_box.answer == "The answer about apple inc"
    kg = result.knowledge_graph
    assert kg and kg.title == "Apple Inc" and kg.type == "Topic" and kg.website == "https://apple-inc.example.org/"
    assert dict(kg.attributes) == {"Founded": "1976", "Headquarters": "Cupertino, California"}
    assert [p.question for p in result.people_also_ask] == ["What is apple inc?", "Why apple inc?"]
    assert result.related_searches == ("apple inc history", "apple inc news", "apple inc reviews")
    (story,) = result.news
    assert (story.title, story.link, story.source, story.date) == (
        "News on apple inc",
        "https://news.example.com/apple-inc",
        "Example News",
        "1 hour ago",
    )


def test_results_are_immutable() -> None:
    result = parse_search(search_body({"q": "a"}))
    with pytest.raises(TypeError):
        result.knowledge_graph.attributes["x"] = "y"  # type: ignore[index,union-attr]
    with pytest.raises(AttributeError):
        result.organic[0].title = "x"  # type: ignore[misc]


def test_missing_sections_are_empty() -> None:
    result = parse_search({"searchParameters": {"q": "a"}, "credits": 1})
    assert result.organic == () and result.answer_box is None and result.knowledge_graph is None
    assert result.people_also_ask == () and result.related_searches == ()


def test_odd_shapes_do_not_break_parsing() -> None:
    result = parse_search(
        {
            "organic": [
                "not an object",
                {"title": "no link"},
                {"title": 7, "link": "https://a.example/", "snippet": None, "position": True, "date": ""},
                {"title": "t", "link": "https://b.example/", "position": "3", "sitelinks": [{"title": "x"}, 5]},
            ],
            "answerBox": {"title": "only a title"},
            "knowledgeGraph": {
                "title": "K",
                "attributes": {"Born": ["1955", "SF"], "Age": 69, "Gone": None, "Nested": {"a": 1}},
            },
            "peopleAlsoAsk": {"question": "not a list"},
            "relatedSearches": [{"query": "one"}, "two", {"q": "wrong key"}, None],
        }
    )
    assert [(r.title, r.position) for r in result.organic] == [("7", 1), ("t", 2)]
    assert result.organic[0].snippet == "" and result.organic[0].date is None
    assert result.organic[1].sitelinks == ()
    assert result.answer_box is None  # neither answer nor snippet
    assert result.knowledge_graph and dict(result.knowledge_graph.attributes) == {
        "Born": "1955, SF",
        "Age": "69",
        "Nested": '{"a":1}',
    }
    assert result.people_also_ask == ()
    assert result.related_searches == ("one", "two")


def test_scrape_is_parsed_and_markdown_only_when_asked() -> None:
    with_md = parse_scrape(scrape_body({"url": "https://example.com", "includeMarkdown": True}), True)
    assert with_md.text.startswith("Example Domain") and with_md.markdown.startswith("# Example Domain")
    assert with_md.metadata["title"] == "Example Domain" and with_md.metadata["og:url"] == "https://example.com"
    assert parse_scrape({"text": "t", "markdown": "# t"}, False).markdown is None
    odd = parse_scrape({"text": None, "markdown": 3, "metadata": {"keywords": ["a", "b"], "n": None}}, True)
    assert odd.text == "" and odd.markdown is None and dict(odd.metadata) == {"keywords": "a, b"}
