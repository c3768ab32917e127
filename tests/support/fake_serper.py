"""A local stand-in for Serper (google.serper.dev/search and scrape.serper.dev) speaking its real wire
format, so the search service's production HTTP client is what the tests exercise.

A real HTTP/1.1 server (stdlib, one thread per connection) on 127.0.0.1 and a free port. It checks the
X-API-KEY header, answers searches and scrapes with realistic, deterministic JSON, records every request, and
can be told to misbehave: fail the next N requests with a status (and Retry-After), delay them, or drop the
connection without answering.

    server = FakeSerper(); server.start(); server.env() -> {"SERPER_API_KEY", "SERPER_SEARCH_URL",
    "SERPER_SCRAPE_URL"}; server.fail_next(2, 503); ...; server.requests; server.reset(); server.stop()
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SEARCH_PATH = "/search"
SCRAPE_PATH = "/scrape"


@dataclass(frozen=True)
class RecordedRequest:
    endpoint: str  # "search", "scrape" or "unknown"
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any  # the parsed JSON, or the raw text when it was not JSON

    @property
    def api_key(self) -> str | None:
        return self.headers.get("x-api-key")


@dataclass
class _Fault:
    endpoint: str | None  # None: any endpoint
    status: int | None = None  # answer with this status instead of the normal answer
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (or before dropping)
    drop: bool = False  # close the connection without an answer


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "query"


def search_body(request: dict[str, Any]) -> dict[str, Any]:
    """A deterministic answer in Serper's shape for a search request body."""
    q = str(request["q"])
    num = int(request.get("num", 10))
    page = int(request.get("page", 1))
    slug = _slug(q)
    parameters = {
        "q": q,
        "gl": request.get("gl", "us"),
        "hl": request.get("hl", "en"),
        "type": "search",
        "num": num,
        "page": page,
        "autocorrect": request.get("autocorrect", True),
        "engine": "google",
    }
    for name in ("location", "tbs"):
        if name in request:
            parameters[name] = request[name]
    organic = []
    for position in range(1, num + 1):
        rank = (page - 1) * num + position
        result: dict[str, Any] = {
            "title": f"{q} - result {rank}",
            "link": f"https://example.com/{slug}/{rank}",
            "snippet": f"Result {rank} about {q}. Everything you need to know.",
            "position": position,
        }
        if position % 3 == 0:
            result["date"] = "Mar 3, 2025"
        if position == 1:
            result["sitelinks"] = [
                {"title": "About", "link": f"https://example.com/{slug}/about"},
                {"title": "Contact", "link": f"https://example.com/{slug}/contact"},
            ]
        organic.append(result)
    body: dict[str, Any] = {"searchParameters": parameters, "organic": organic}
    if page == 1:
        body["answerBox"] = {
            "title": f"{q} - answer",
            "answer": f"The answer about {q}",
            "snippet": f"In short: {q}.",
            "snippetHighlighted": [q],
            "link": f"https://answers.example.com/{slug}",
        }
        body["knowledgeGraph"] = {
            "title": q.title(),
            "type": "Topic",
            "website": f"https://{slug}.example.org/",
            "imageUrl": f"https://images.example.com/{slug}.png",
            "description": f"{q.title()} is the subject of this search.",
            "descriptionSource": "Wikipedia",
            "descriptionLink": f"https://en.wikipedia.org/wiki/{slug}",
            "attributes": {"Founded": "1976", "Headquarters": "Cupertino, California"},
        }
        body["peopleAlsoAsk"] = [
            {
                "question": f"What is {q}?",
                "snippet": f"{q} is a thing.",
                "title": f"About {q}",
                "link": f"https://faq.example.com/{slug}/what",
            },
            {
                "question": f"Why {q}?",
                "snippet": "Because.",
                "title": f"Why {q}",
                "link": f"https://faq.example.com/{slug}/why",
            },
        ]
        body["topStories"] = [
            {
                "title": f"News on {q}",
                "link": f"https://news.example.com/{slug}",
                "source": "Example News",
                "date": "1 hour ago",
            }
        ]
    body["relatedSearches"] = [{"query": f"{q} {suffix}"} for suffix in ("history", "news", "reviews")]
    body["credits"] = 1
    return body


def scrape_body(request: dict[str, Any]) -> dict[str, Any]:
    """A deterministic answer in Serper's scrape shape for a scrape request body."""
    url = str(request["url"])
    text = f"Example Domain\nThis page ({url}) is for use in illustrative examples in documents."
    body: dict[str, Any] = {
        "text": text,
        "metadata": {
            "title": "Example Domain",
            "description": "An example page",
            "og:title": "Example Domain",
            "og:url": url,
            "viewport": "width=device-width, initial-scale=1",
        },
        "credits": 1,
    }
    if request.get("includeMarkdown"):
        body["markdown"] = f"# Example Domain\n\nThis page ({url}) is for use in illustrative examples."
    return body


class FakeSerper:
    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key or f"serper-test-{secrets.token_hex(12)}"
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._requests: list[RecordedRequest] = []
        self._faults: list[_Fault] = []
        self._search_overrides: dict[str, tuple[int, Any]] = {}
        self._scrape_overrides: dict[str, tuple[int, Any]] = {}
        self._connections: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-serper", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # wakes delayed answers
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # idle keep-alive connections would otherwise hold their threads
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread:
            self._thread.join(timeout=5)
        self._server = None

    @property
    def port(self) -> int:
        assert self._server is not None, "FakeSerper is not started"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def search_url(self) -> str:
        return self.base_url + SEARCH_PATH

    @property
    def scrape_url(self) -> str:
        return self.base_url + SCRAPE_PATH

    def env(self) -> dict[str, str]:
        return {
            "SERPER_API_KEY": self.api_key,
            "SERPER_SEARCH_URL": self.search_url,
            "SERPER_SCRAPE_URL": self.scrape_url,
        }

    # -- what tests inspect and inject ---------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_for(self, endpoint: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.endpoint == endpoint]

    def queries(self) -> list[str]:
        """The q of every search request received, in order."""
        return [r.body.get("q") for r in self.requests_for("search") if isinstance(r.body, dict)]

    def fail_next(
        self,
        count: int = 1,
        status: int = 503,
        *,
        retry_after: str | float | None = None,
        body: Any = None,
        endpoint: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """The next `count` requests (to `endpoint`, or any) get `status` instead of an answer."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        if body is None:
            body = {"message": f"Injected failure {status}", "statusCode": status}
        self._add_faults(count, _Fault(endpoint, status=status, body=body, headers=headers, delay=delay))

    def delay_next(self, count: int = 1, seconds: float = 1.0, *, endpoint: str | None = None) -> None:
        """The next `count` requests are answered normally, after `seconds`."""
        self._add_faults(count, _Fault(endpoint, delay=seconds))

    def drop_next(self, count: int = 1, *, endpoint: str | None = None) -> None:
        """The next `count` requests get their connection closed without any answer."""
        self._add_faults(count, _Fault(endpoint, drop=True))

    def set_search_response(self, q: str, body: Any, status: int = 200) -> None:
        """Searches for `q` get this body (any JSON value, or bytes sent as they are) instead of the default."""
        with self._lock:
            self._search_overrides[q] = (status, body)

    def set_scrape_response(self, url: str, body: Any, status: int = 200) -> None:
        with self._lock:
            self._scrape_overrides[url] = (status, body)

    def reset(self) -> None:
        """Forgets recorded requests, pending faults and overridden answers."""
        with self._lock:
            self._requests.clear()
            self._faults.clear()
            self._search_overrides.clear()
            self._scrape_overrides.clear()

    def clear_faults(self) -> None:
        """Drops pending faults only (for a shared instance: overrides other tests set stay)."""
        with self._lock:
            self._faults.clear()

    def _add_faults(self, count: int, fault: _Fault) -> None:
        with self._lock:
            self._faults.extend(_Fault(**vars(fault)) for _ in range(count))

    # -- serving -------------------------------------------------------------------------------------
    def _take_fault(self, endpoint: str) -> _Fault | None:
        for i, fault in enumerate(self._faults):
            if fault.endpoint in (None, endpoint):
                return self._faults.pop(i)
        return None

    def _answer(self, endpoint: str, path: str, headers: dict[str, str], body: Any) -> tuple[_Fault | None, int, Any]:
        """Records the request and decides the answer: (fault, status, body)."""
        with self._lock:
            self._requests.append(RecordedRequest(endpoint, path, headers, body))
            fault = self._take_fault(endpoint)
            search_override = self._search_overrides.get(body.get("q")) if isinstance(body, dict) else None
            scrape_override = self._scrape_overrides.get(body.get("url")) if isinstance(body, dict) else None
        if fault and (fault.drop or fault.status is not None):
            return fault, fault.status or 0, fault.body
        if headers.get("x-api-key") != self.api_key:
            return fault, 403, {"message": "Unauthorized.", "statusCode": 403}
        if endpoint == "unknown":
            return fault, 404, {"message": "Not found", "statusCode": 404}
        if not isinstance(body, dict):
            return fault, 400, {"message": "Invalid JSON body", "statusCode": 400}
        if endpoint == "search":
            if search_override:
                return fault, *search_override
            if not isinstance(body.get("q"), str) or not body["q"]:
                return fault, 400, {"message": "Missing query parameter", "statusCode": 400}
            return fault, 200, search_body(body)
        if scrape_override:
            return fault, *scrape_override
        if not isinstance(body.get("url"), str):
            return fault, 400, {"message": "Missing url", "statusCode": 400}
        return fault, 200, scrape_body(body)


def _handler_for(fake: FakeSerper) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real service; every answer has a Content-Length
        disable_nagle_algorithm = True  # headers and body go out in two writes: avoid the 40 ms delayed-ACK stall

        def setup(self) -> None:
            super().setup()
            with fake._lock:
                fake._connections.add(self.connection)

        def finish(self) -> None:
            with fake._lock:
                fake._connections.discard(self.connection)
            try:
                super().finish()
            except OSError:
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet; tests read fake.requests

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length).decode("utf-8", "replace")
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw
            path = self.path.split("?", 1)[0]
            endpoint = {SEARCH_PATH: "search", SCRAPE_PATH: "scrape"}.get(path, "unknown")
            headers = {k.lower(): v for k, v in self.headers.items()}
            fault, status, answer = fake._answer(endpoint, self.path, headers, body)
            if fault and fault.delay and fake._stopping.wait(fault.delay):
                self.close_connection = True
                return
            if fault and fault.drop:
                self.close_connection = True
                return
            self._send(status, answer, fault.headers if fault else {})

        def do_GET(self) -> None:
            self._send(405, {"message": "Method not allowed", "statusCode": 405}, {})

        def _send(self, status: int, answer: Any, extra_headers: dict[str, str]) -> None:
            data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in extra_headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout) and closed the connection
                self.close_connection = True

    return Handler
