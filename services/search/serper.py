"""The Serper client: web search (google.serper.dev/search) and page scrape (scrape.serper.dev).

Each call is validated, answered from the cache when it can be, and otherwise sent with a per-attempt timeout
and retried (tenacity: exponential backoff with jitter, or the server's Retry-After) on timeouts, connection
errors, 429 and 5xx. Whatever fails ends as a services.common.errors error with a message for the caller; the
API key never appears in a message or a log line (it is only ever put in the X-API-KEY header).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import httpx
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from services.common import errors
from services.search.cache import ResultCache
from services.search.domain import ScrapeQuery, ScrapeResult, SearchQuery, SearchResult
from services.search.metrics import SearchMetrics
from services.search.serper_wire import parse_scrape, parse_search, scrape_payload, search_payload
from services.search.validation import validate_scrape, validate_search

log = logging.getLogger(__name__)

_MAX_UPSTREAM_MESSAGE_CHARS = 300


@dataclass(frozen=True)
class SerperConfig:
    api_key: str = field(repr=False)
    search_url: str = "https://google.serper.dev/search"
    scrape_url: str = "https://scrape.serper.dev"
    timeout_seconds: float = 10.0  # per attempt, connect to last byte
    max_attempts: int = 3
    backoff_initial_seconds: float = 0.25
    backoff_max_seconds: float = 4.0
    retry_after_max_seconds: float = 20.0  # a longer Retry-After fails at once instead of waiting
    cache_ttl_seconds: float = 300.0
    cache_max_entries: int = 1024
    cache_max_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        # Checked here so a bad key fails the start; the message must not quote the key.
        if self.api_key and not all(0x21 <= ord(c) <= 0x7E for c in self.api_key):
            raise ValueError("SERPER_API_KEY must be printable ASCII without spaces")
        if self.max_attempts < 1 or self.timeout_seconds <= 0:
            raise ValueError("max_attempts must be >= 1 and timeout_seconds > 0")


def create_http_client(timeout_seconds: float, max_connections: int = 100) -> httpx.AsyncClient:
    """The one HTTP client a search service process uses (connection pool shared by every call)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_seconds),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=min(max_connections, 20)),
        headers={"accept": "application/json", "user-agent": "jan-search/1"},
        follow_redirects=False,
    )


class _UpstreamFailure(Exception):
    """One failed attempt. `retryable` decides whether tenacity tries again."""

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        detail: str = "",
        retryable: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason  # timeout | transport | status | invalid_response
        self.status = status
        self.retry_after = retry_after
        self.detail = detail
        self.retryable = retryable


def _parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Retry-After as delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


def _upstream_message(response: httpx.Response) -> str:
    """Serper's own error text ({"message": ...}), shortened; empty when it sent none."""
    try:
        body = response.json()
    except ValueError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return " ".join(str(message).split())[:_MAX_UPSTREAM_MESSAGE_CHARS] if message else ""


class SerperClient:
    """Search and scrape through Serper. Takes the process's shared httpx client; does not close it."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        config: SerperConfig,
        clock: Callable[[], float] = time.monotonic,
        metrics: SearchMetrics | None = None,
    ):
        self._http = http
        self._metrics = metrics
        self._config = config
        self._api_key = config.api_key
        self.cache: ResultCache[Any] = ResultCache(
            config.cache_ttl_seconds,
            config.cache_max_entries,
            max_size=config.cache_max_bytes,
            size_of=lambda value: value.approx_size(),
            clock=clock,
        )
        if metrics is not None:
            metrics.watch_cache(self.cache)

    def __repr__(self) -> str:
        return f"SerperClient(search_url={self._config.search_url!r}, configured={self.configured})"

    @property
    def configured(self) -> bool:
        return bool(self._api_key)

    async def search(self, query: SearchQuery, time_left: float | None = None) -> SearchResult:
        """Runs a web search. `time_left` is how long the caller will wait, in seconds (its gRPC deadline)."""
        query = validate_search(query)
        self._require_key()
        return await self._cached(("search", query), lambda: self._search_upstream(query), time_left)

    async def scrape(self, query: ScrapeQuery, time_left: float | None = None) -> ScrapeResult:
        """Fetches one page as text (and markdown when asked)."""
        query = validate_scrape(query)
        self._require_key()
        return await self._cached(("scrape", query), lambda: self._scrape_upstream(query), time_left)

    def _require_key(self) -> None:
        if not self._api_key:
            raise errors.FailedPrecondition(
                "search is not configured: set SERPER_API_KEY", code="search_not_configured"
            )

    async def _cached(self, key: Hashable, fetch: Callable[[], Any], time_left: float | None) -> Any:
        try:
            async with asyncio.timeout(time_left):
                return await self.cache.get_or_fetch(key, fetch)
        except TimeoutError:
            # Our own attempts never let TimeoutError out, so this is the caller's deadline.
            raise errors.DeadlineExceeded(
                "Serper did not answer before the request's deadline", code="deadline_exceeded"
            ) from None

    async def _search_upstream(self, query: SearchQuery) -> SearchResult:
        return parse_search(await self._post("search", self._config.search_url, search_payload(query)))

    async def _scrape_upstream(self, query: ScrapeQuery) -> ScrapeResult:
        body = await self._post("scrape", self._config.scrape_url, scrape_payload(query))
        return parse_scrape(body, query.include_markdown)

    # -- one call, with retries -----------------------------------------------------------------------
    def _retrying(self, endpoint: str) -> AsyncRetrying:
        backoff = wait_exponential_jitter(
            initial=self._config.backoff_initial_seconds,
            max=self._config.backoff_max_seconds,
            jitter=self._config.backoff_initial_seconds,
        )

        def wait(state: RetryCallState) -> float:
            failure = state.outcome.exception() if state.outcome else None
            if isinstance(failure, _UpstreamFailure) and failure.retry_after is not None:
                return failure.retry_after  # within retry_after_max_seconds, or it would not be retryable
            return backoff(state)

        def before_sleep(state: RetryCallState) -> None:
            failure = state.outcome.exception() if state.outcome else None
            log.warning(
                "serper call failed, retrying",
                extra={
                    "endpoint": endpoint,
                    "attempt": state.attempt_number,
                    "reason": getattr(failure, "reason", None),
                    "status": getattr(failure, "status", None),
                    "wait_seconds": round(state.upcoming_sleep, 3),
                },
            )

        return AsyncRetrying(
            stop=stop_after_attempt(self._config.max_attempts),
            wait=wait,
            retry=retry_if_exception(lambda exc: isinstance(exc, _UpstreamFailure) and exc.retryable),
            before_sleep=before_sleep,
            reraise=True,
        )

    async def _post(self, endpoint: str, url: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POSTs with retries; returns the JSON object Serper answered or raises a JanError."""
        attempts = 0
        started = time.monotonic()
        with trace.get_tracer(__name__).start_as_current_span(f"serper {endpoint}", kind=SpanKind.CLIENT) as span:
            span.set_attribute("server.address", httpx.URL(url).host)
            try:
                async for attempt in self._retrying(endpoint):
                    with attempt:
                        attempts += 1
                        span.set_attribute("serper.attempts", attempts)
                        body = await self._attempt(url, payload)
                        if self._metrics is not None:
                            self._metrics.upstream(endpoint, "ok", attempts, time.monotonic() - started)
                        return body
            except _UpstreamFailure as failure:
                if failure.status:
                    span.set_attribute("http.response.status_code", failure.status)
                # A rejected key needs the operator; anything else is Serper's or the network's passing trouble.
                log.log(
                    logging.ERROR if failure.status in (401, 403) else logging.WARNING,
                    "serper call failed",
                    extra={
                        "endpoint": endpoint,
                        "attempts": attempts,
                        "reason": failure.reason,
                        "status": failure.status,
                        "duration_ms": round((time.monotonic() - started) * 1000),
                    },
                )
                error = self._error(failure, attempts)
                if self._metrics is not None:
                    self._metrics.upstream(endpoint, error.code or "error", attempts, time.monotonic() - started)
                raise error from None
        raise AssertionError("unreachable")

    async def _attempt(self, url: str, payload: dict[str, Any]) -> dict[str, Any]:
        timeout = self._config.timeout_seconds
        try:
            # httpx's timeout bounds each phase; this bounds the whole attempt (a slow trickle included).
            async with asyncio.timeout(timeout):
                response = await self._http.post(
                    url, json=payload, headers={"X-API-KEY": self._api_key}, timeout=timeout
                )
        except (TimeoutError, httpx.TimeoutException):
            raise _UpstreamFailure("timeout", retryable=True) from None
        except httpx.TransportError as exc:
            # Only the class name: some transport errors quote the request.
            raise _UpstreamFailure("transport", detail=type(exc).__name__, retryable=True) from None
        status = response.status_code
        if status == 200:
            try:
                body = response.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                raise _UpstreamFailure("invalid_response", status=status)
            return body
        retry_after = _parse_retry_after(response.headers.get("retry-after"))
        retryable = status == 429 or status >= 500
        if retry_after is not None and retry_after > self._config.retry_after_max_seconds:
            retryable = False  # asked to wait longer than a caller would: fail now
        raise _UpstreamFailure(
            "status",
            status=status,
            retry_after=retry_after,
            detail=self._scrub(_upstream_message(response)),
            retryable=retryable,
        )

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "[REDACTED]") if self._api_key else text

    def _error(self, failure: _UpstreamFailure, attempts: int) -> errors.JanError:
        """The caller-facing error for the last failed attempt."""
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        if failure.reason == "timeout":
            return errors.DeadlineExceeded(
                f"Serper did not answer within {self._config.timeout_seconds:g} s ({tries})", code="upstream_timeout"
            )
        if failure.reason == "transport":
            return errors.Unavailable(f"cannot reach Serper ({failure.detail}; {tries})", code="upstream_unreachable")
        if failure.reason == "invalid_response":
            return errors.Unavailable("Serper sent a response that is not a JSON object", code="upstream_bad_response")
        status, detail = failure.status or 0, failure.detail
        suffix = f": {detail}" if detail else ""
        if status in (401, 403):
            return errors.Unavailable(
                f"Serper rejected the configured API key (HTTP {status}); check SERPER_API_KEY",
                code="upstream_auth_failed",
            )
        if status == 402 or (status == 400 and "credit" in detail.lower()):
            # Serper reports an exhausted account as 400 "Not enough credits".
            return errors.Unavailable(
                f"the Serper account has no credits left{suffix}", code="upstream_quota_exhausted"
            )
        if status == 429:
            wait = f"; retry after {failure.retry_after:g} s" if failure.retry_after else ""
            return errors.Unavailable(f"Serper is rate limiting requests ({tries}){wait}", code="upstream_rate_limited")
        if status in (400, 422):
            return errors.InvalidArgument(
                f"Serper rejected the request (HTTP {status}){suffix}", code="upstream_rejected"
            )
        if status >= 500:
            return errors.Unavailable(f"Serper failed with HTTP {status} ({tries})", code="upstream_error")
        return errors.Unavailable(f"unexpected answer from Serper (HTTP {status}){suffix}", code="upstream_error")
