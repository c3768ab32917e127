"""Checks on search and scrape requests, each failing with the bad parameter as `param`.

`validate_search` and `validate_scrape` return a normalized copy of the request, which is also the cache
key: two requests that differ only in spacing or letter case of codes share one upstream call.
"""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlsplit

from services.common.errors import InvalidArgument
from services.search.domain import ScrapeQuery, SearchQuery

MAX_QUERY_CHARS = 2048
MAX_RESULTS = 100
MAX_URL_CHARS = 8192
_MAX_OPTION_CHARS = 256
_GL = re.compile(r"[a-z]{2}")  # ISO 3166-1 alpha-2 country, as Google's gl takes it
_HL = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,4})?")  # Google interface language: en, zh-cn, es-419


def _option(value: str | None, param: str) -> str | None:
    """An optional text parameter: trimmed; empty counts as not given."""
    if value is None:
        return None
    value = value.strip()
    if len(value) > _MAX_OPTION_CHARS:
        raise InvalidArgument(f"{param} is longer than {_MAX_OPTION_CHARS} characters", param=param)
    return value or None


def _code(value: str | None, param: str, pattern: re.Pattern[str], example: str) -> str | None:
    value = _option(value, param)
    if value is None:
        return None
    value = value.lower()
    if not pattern.fullmatch(value):
        raise InvalidArgument(f"{param} must be a code like {example!r}", param=param)
    return value


def validate_search(query: SearchQuery) -> SearchQuery:
    """Checks a search and returns it normalized; raises InvalidArgument naming the bad parameter."""
    q = " ".join(query.q.split())
    if not q:
        raise InvalidArgument("q must not be empty", param="q")
    if len(q) > MAX_QUERY_CHARS:
        raise InvalidArgument(f"q is longer than {MAX_QUERY_CHARS} characters", param="q")
    if query.num is not None and not 1 <= query.num <= MAX_RESULTS:
        raise InvalidArgument(f"num must be between 1 and {MAX_RESULTS}", param="num")
    if query.page is not None and query.page < 1:
        raise InvalidArgument("page must be 1 or more", param="page")
    return replace(
        query,
        q=q,
        gl=_code(query.gl, "gl", _GL, "us"),
        hl=_code(query.hl, "hl", _HL, "en"),
        location=_option(query.location, "location"),
        tbs=_option(query.tbs, "tbs"),
    )


def validate_scrape(query: ScrapeQuery) -> ScrapeQuery:
    """Checks a scrape and returns it normalized; the URL must be absolute http(s) with a host."""
    url = query.url.strip()
    if not url:
        raise InvalidArgument("url must not be empty", param="url")
    if len(url) > MAX_URL_CHARS:
        raise InvalidArgument(f"url is longer than {MAX_URL_CHARS} characters", param="url")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        host = None
    if (
        host is None
        or parts.scheme.lower() not in ("http", "https")
        or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url)
    ):
        raise InvalidArgument("url must be an absolute http or https URL", param="url")
    return replace(query, url=url)
