"""Request checks and normalization (pure: no network, no gRPC)."""

from __future__ import annotations

import pytest

from services.common.errors import InvalidArgument
from services.search.domain import ScrapeQuery, SearchQuery
from services.search.validation import validate_scrape, validate_search


def test_search_is_normalized_into_its_cache_key() -> None:
    a = validate_search(SearchQuery(q="  apple \t inc\n", gl="US", hl="EN", location=" Berlin ", tbs=""))
    b = validate_search(SearchQuery(q="apple inc", gl="us", hl="en", location="Berlin"))
    assert a == b and hash(a) == hash(b)
    assert a == SearchQuery(q="apple inc", gl="us", hl="en", location="Berlin", tbs=None)


@pytest.mark.parametrize(
    ("query", "param"),
    [
        (SearchQuery(q=""), "q"),
        (SearchQuery(q=" \n\t "), "q"),
        (SearchQuery(q="x" * 2049), "q"),
        (SearchQuery(q="a", num=0), "num"),
        (SearchQuery(q="a", num=101), "num"),
        (SearchQuery(q="a", page=0), "page"),
        (SearchQuery(q="a", gl="usa"), "gl"),
        (SearchQuery(q="a", hl="english"), "hl"),
        (SearchQuery(q="a", location="x" * 257), "location"),
    ],
)
def test_invalid_search_names_the_parameter(query: SearchQuery, param: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        validate_search(query)
    assert raised.value.param == param
    assert raised.value.kind.grpc_code == "INVALID_ARGUMENT"


@pytest.mark.parametrize("hl", ["en", "zh-cn", "pt-BR", "es-419", "fil"])
def test_real_interface_languages_pass(hl: str) -> None:
    assert validate_search(SearchQuery(q="a", hl=hl, num=100, page=3)).hl == hl.lower()


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "example.com",
        "ftp://example.com/x",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "http://",
        "https://exa mple.com/",
        "https://example.com/\x00",
        "http://[::1",
        "https://x.com/" + "a" * 8200,
    ],
)
def test_invalid_scrape_url(url: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        validate_scrape(ScrapeQuery(url=url))
    assert raised.value.param == "url"


@pytest.mark.parametrize("url", ["https://example.com", "HTTP://Example.com/a?b=c#d", "http://127.0.0.1:8080/x"])
def test_valid_scrape_url_is_kept(url: str) -> None:
    assert validate_scrape(ScrapeQuery(url=f" {url} ", include_markdown=True)) == ScrapeQuery(url, True)
