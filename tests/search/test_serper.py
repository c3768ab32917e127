"""The Serper client against a real local HTTP server speaking Serper's wire format: requests as Serper
expects them, retries and their limits, timeouts, the cache, coalescing, error mapping, and the API key
staying out of every message and log line."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest

from services.common import errors
from services.search.domain import ScrapeQuery, SearchQuery
from services.search.serper import SerperClient, SerperConfig, _parse_retry_after
from tests.search.conftest import ClientFactory, config_for
from tests.support.fake_serper import FakeSerper


async def test_search_sends_serpers_request_and_parses_its_answer(serper: FakeSerper, make_client: ClientFactory):
    client = make_client()
    result = await client.search(
        SearchQuery(
            q="  apple  inc ", gl="US", hl="en", location="Cupertino", num=5, tbs="qdr:w", page=1, autocorrect=False
        )
    )
    [request] = serper.requests
    assert request.endpoint == "search" and request.path == "/search"
    assert request.api_key == serper.api_key
    assert request.headers["content-type"] == "application/json"
    assert request.body == {
        "q": "apple inc",
        "gl": "us",
        "hl": "en",
        "location": "Cupertino",
        "num": 5,
        "tbs": "qdr:w",
        "page": 1,
        "autocorrect": False,
    }
    assert len(result.organic) == 5 and result.organic[0].link == "https://example.com/apple-inc/1"
    assert result.answer_box and result.knowledge_graph and result.people_also_ask and result.related_searches


async def test_scrape_sends_url_and_include_markdown(serper: FakeSerper, make_client: ClientFactory):
    client = make_client()
    result = await client.scrape(ScrapeQuery(url="https://example.com/page", include_markdown=True))
    [request] = serper.requests
    assert request.endpoint == "scrape" and request.api_key == serper.api_key
    assert request.body == {"url": "https://example.com/page", "includeMarkdown": True}
    assert "https://example.com/page" in result.text and result.markdown.startswith("# Example Domain")
    assert result.metadata["title"] == "Example Domain"
    plain = await client.scrape(ScrapeQuery(url="https://example.com/other"))
    assert plain.markdown is None and serper.requests[-1].body["includeMarkdown"] is False


# -- retries ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
async def test_transient_statuses_are_retried(serper: FakeSerper, make_client: ClientFactory, status: int):
    serper.fail_next(2, status)
    result = await make_client().search(SearchQuery(q="retry me"))
    assert len(serper.requests) == 3 and result.organic


async def test_dropped_connection_is_retried(serper: FakeSerper, make_client: ClientFactory):
    serper.drop_next(1)
    result = await make_client().scrape(ScrapeQuery(url="https://example.com"))
    assert len(serper.requests) == 2 and result.text


async def test_retry_after_is_honored(serper: FakeSerper, make_client: ClientFactory):
    serper.fail_next(1, 429, retry_after=1)
    started = time.monotonic()
    await make_client(backoff_initial_seconds=0.001, backoff_max_seconds=0.001).search(SearchQuery(q="slow down"))
    assert time.monotonic() - started >= 0.95
    assert len(serper.requests) == 2


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert _parse_retry_after("3") == 3.0 and _parse_retry_after(" 0.5 ") == 0.5 and _parse_retry_after("-4") == 0
    assert _parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=lambda: 1445412480.0) == 10.0
    assert _parse_retry_after("soon") is None and _parse_retry_after(None) is None


async def test_retry_after_beyond_the_cap_fails_at_once(serper: FakeSerper, make_client: ClientFactory):
    serper.fail_next(3, 429, retry_after=3600)
    started = time.monotonic()
    with pytest.raises(errors.Unavailable) as raised:
        await make_client().search(SearchQuery(q="come back in an hour"))
    assert time.monotonic() - started < 1 and len(serper.requests) == 1
    assert raised.value.code == "upstream_rate_limited" and "retry after 3600 s" in raised.value.message


async def test_exhausted_retries_are_unavailable(serper: FakeSerper, make_client: ClientFactory):
    serper.fail_next(10, 503)
    with pytest.raises(errors.Unavailable) as raised:
        await make_client(max_attempts=4).search(SearchQuery(q="down"))
    assert len(serper.requests) == 4
    assert raised.value.message == "Serper failed with HTTP 503 (4 attempts)" and raised.value.code == "upstream_error"


async def test_exhausted_429_is_unavailable_not_the_callers_rate_limit(serper: FakeSerper, make_client: ClientFactory):
    serper.fail_next(3, 429)
    with pytest.raises(errors.Unavailable) as raised:
        await make_client().search(SearchQuery(q="busy"))
    assert raised.value.code == "upstream_rate_limited" and len(serper.requests) == 3


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (400, {"message": "Invalid gl parameter", "statusCode": 400}, errors.InvalidArgument, "upstream_rejected"),
        (422, None, errors.InvalidArgument, "upstream_rejected"),
        (400, {"message": "Not enough credits", "statusCode": 400}, errors.Unavailable, "upstream_quota_exhausted"),
        (402, None, errors.Unavailable, "upstream_quota_exhausted"),
        (404, None, errors.Unavailable, "upstream_error"),
        (401, None, errors.Unavailable, "upstream_auth_failed"),
        (403, None, errors.Unavailable, "upstream_auth_failed"),
    ],
)
async def test_client_errors_are_not_retried(
    serper: FakeSerper, make_client: ClientFactory, status: int, body, error: type[errors.JanError], code: str
):
    serper.fail_next(3, status, body=body)
    with pytest.raises(error) as raised:
        await make_client().search(SearchQuery(q="bad"))
    assert len(serper.requests) == 1 and raised.value.code == code
    if body and error is errors.InvalidArgument:
        assert raised.value.message == "Serper rejected the request (HTTP 400): Invalid gl parameter"


async def test_wrong_key_is_a_clear_unavailable(serper: FakeSerper, http: httpx.AsyncClient):
    client = SerperClient(http, SerperConfig(api_key="wrong-key-123", search_url=serper.search_url))
    with pytest.raises(errors.Unavailable) as raised:
        await client.search(SearchQuery(q="who am i"))
    assert raised.value.message == "Serper rejected the configured API key (HTTP 403); check SERPER_API_KEY"
    assert len(serper.requests) == 1 and serper.requests[0].api_key == "wrong-key-123"


async def test_invalid_json_answer_is_unavailable(serper: FakeSerper, make_client: ClientFactory):
    serper.set_search_response("garbage", b"<html>oops</html>")
    serper.set_search_response("list", [1, 2])
    client = make_client()
    for q in ("garbage", "list"):
        with pytest.raises(errors.Unavailable) as raised:
            await client.search(SearchQuery(q=q))
        assert raised.value.code == "upstream_bad_response"
    assert len(serper.requests) == 2


# -- timeouts and deadlines --------------------------------------------------------------------------


async def test_each_attempt_times_out_and_the_last_timeout_is_deadline_exceeded(
    serper: FakeSerper, make_client: ClientFactory
):
    serper.delay_next(3, seconds=5)
    started = time.monotonic()
    with pytest.raises(errors.DeadlineExceeded) as raised:
        await make_client(timeout_seconds=0.2).search(SearchQuery(q="slow"))
    elapsed = time.monotonic() - started
    assert 0.6 <= elapsed < 2, elapsed
    assert len(serper.requests) == 3
    assert raised.value.message == "Serper did not answer within 0.2 s (3 attempts)"
    assert raised.value.code == "upstream_timeout"


async def test_a_slow_attempt_then_a_fast_one_succeeds(serper: FakeSerper, make_client: ClientFactory):
    serper.delay_next(1, seconds=5)
    result = await make_client(timeout_seconds=0.2).search(SearchQuery(q="second time lucky"))
    assert result.organic and len(serper.requests) == 2


async def test_callers_deadline_ends_the_wait_and_the_upstream_call(serper: FakeSerper, make_client: ClientFactory):
    serper.delay_next(1, seconds=5)
    client = make_client(timeout_seconds=10)
    started = time.monotonic()
    with pytest.raises(errors.DeadlineExceeded) as raised:
        await client.search(SearchQuery(q="no time"), time_left=0.3)
    assert time.monotonic() - started < 1
    assert raised.value.code == "deadline_exceeded"
    await asyncio.sleep(0.05)
    assert client.cache.in_flight == 0  # nobody was left waiting, so the upstream call was cancelled


async def test_unreachable_serper_is_unavailable(http: httpx.AsyncClient):
    stopped = FakeSerper()
    stopped.start()
    url = stopped.search_url
    stopped.stop()  # nothing listens on this port any more
    client = SerperClient(http, SerperConfig(api_key="k", search_url=url, max_attempts=2, backoff_initial_seconds=0.01))
    with pytest.raises(errors.Unavailable) as raised:
        await client.search(SearchQuery(q="anyone?"))
    assert raised.value.code == "upstream_unreachable"
    assert raised.value.message == "cannot reach Serper (ConnectError; 2 attempts)"


# -- cache and coalescing ----------------------------------------------------------------------------


async def test_repeated_and_equivalent_searches_hit_the_cache(serper: FakeSerper, make_client: ClientFactory):
    client = make_client()
    first = await client.search(SearchQuery(q="cached query", gl="us"))
    again = await client.search(SearchQuery(q=" cached   query ", gl="US"))
    assert again is first and len(serper.requests) == 1
    await client.search(SearchQuery(q="cached query", gl="us", page=2))  # a different request
    await client.scrape(ScrapeQuery(url="https://example.com"))
    await client.scrape(ScrapeQuery(url="https://example.com"))
    await client.scrape(ScrapeQuery(url="https://example.com", include_markdown=True))
    assert [r.endpoint for r in serper.requests] == ["search", "search", "scrape", "scrape"]
    assert client.cache.stats.hits == 2


async def test_cache_expires_after_its_ttl(serper: FakeSerper, http: httpx.AsyncClient):
    now = [0.0]
    client = SerperClient(http, config_for(serper, cache_ttl_seconds=30), clock=lambda: now[0])
    await client.search(SearchQuery(q="fresh"))
    now[0] = 29.9
    await client.search(SearchQuery(q="fresh"))
    now[0] = 30.0
    await client.search(SearchQuery(q="fresh"))
    assert len(serper.requests) == 2


async def test_failures_are_not_cached(serper: FakeSerper, make_client: ClientFactory):
    client = make_client(max_attempts=1)
    serper.fail_next(1, 503)
    with pytest.raises(errors.Unavailable):
        await client.search(SearchQuery(q="flaky"))
    assert (await client.search(SearchQuery(q="flaky"))).organic
    assert len(serper.requests) == 2


async def test_cache_can_be_turned_off(serper: FakeSerper, make_client: ClientFactory):
    client = make_client(cache_ttl_seconds=0)
    await client.search(SearchQuery(q="uncached"))
    await client.search(SearchQuery(q="uncached"))
    assert len(serper.requests) == 2


async def test_concurrent_identical_requests_make_one_upstream_call(serper: FakeSerper, make_client: ClientFactory):
    serper.delay_next(1, seconds=0.3)
    client = make_client()
    results = await asyncio.gather(*(client.search(SearchQuery(q="popular")) for _ in range(25)))
    assert len(serper.requests) == 1
    assert all(r is results[0] for r in results)
    assert client.cache.stats.coalesced == 24


async def test_concurrent_different_requests_run_in_parallel(serper: FakeSerper, make_client: ClientFactory):
    serper.delay_next(5, seconds=0.3)
    client = make_client()
    started = time.monotonic()
    await asyncio.gather(*(client.search(SearchQuery(q=f"topic {i}")) for i in range(5)))
    assert time.monotonic() - started < 0.9 and len(serper.requests) == 5


# -- configuration and secrecy -----------------------------------------------------------------------


async def test_missing_key_is_failed_precondition_without_a_request(serper: FakeSerper, make_client: ClientFactory):
    client = make_client(api_key="")
    for call in (client.search(SearchQuery(q="a")), client.scrape(ScrapeQuery(url="https://example.com"))):
        with pytest.raises(errors.FailedPrecondition) as raised:
            await call
        assert raised.value.message == "search is not configured: set SERPER_API_KEY"
    assert serper.requests == []


async def test_invalid_input_is_rejected_before_any_request(serper: FakeSerper, make_client: ClientFactory):
    client = make_client()
    with pytest.raises(errors.InvalidArgument) as raised:
        await client.search(SearchQuery(q="a", num=500))
    assert raised.value.param == "num"
    with pytest.raises(errors.InvalidArgument) as raised:
        await client.scrape(ScrapeQuery(url="file:///etc/passwd"))
    assert raised.value.param == "url"
    assert serper.requests == []


def test_malformed_key_fails_the_start_without_quoting_it() -> None:
    with pytest.raises(ValueError) as raised:
        SerperConfig(api_key="secret value\n")
    assert "secret" not in str(raised.value)


async def test_the_key_never_appears_in_errors_logs_or_reprs(
    serper: FakeSerper, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
):
    key = serper.api_key
    caplog.set_level(logging.DEBUG)  # httpx and httpcore included
    client = make_client(max_attempts=2, timeout_seconds=0.3)
    raised: list[errors.JanError] = []
    scenarios = [
        lambda: serper.fail_next(2, 503),
        lambda: serper.fail_next(1, 400, body={"message": f"bad request for key {key}", "statusCode": 400}),
        lambda: serper.fail_next(1, 403),
        lambda: serper.delay_next(2, seconds=3),
        lambda: serper.drop_next(2),
        lambda: None,
    ]
    for i, arrange in enumerate(scenarios):
        arrange()
        try:
            await client.search(SearchQuery(q=f"secret scenario {i}"))
        except errors.JanError as exc:
            raised.append(exc)
    assert [type(e) for e in raised] == [
        errors.Unavailable,
        errors.InvalidArgument,
        errors.Unavailable,
        errors.DeadlineExceeded,
        errors.Unavailable,
    ]
    assert "[REDACTED]" in raised[1].message  # Serper's message was passed on, with the key scrubbed
    for exc in raised:
        for text in (
            str(exc),
            repr(exc),
            exc.message,
            str(exc.openai_body()),
            repr(exc.__cause__),
            repr(exc.__context__),
        ):
            assert key not in text
    assert caplog.records and key not in caplog.text
    for record in caplog.records:
        assert key not in str(record.__dict__)
    assert key not in repr(client) and key not in repr(client._config)
    assert all(r.api_key == key for r in serper.requests)  # it was sent every time, only in the header
