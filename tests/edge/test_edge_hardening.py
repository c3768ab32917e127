"""The edge against hostile or careless clients, through the real Envoy (findings of a security review):
CORS only for listed origins, cookie-based refresh needing a header a form cannot send, bad values and
oversized requests answered 400/413/431 in OpenAI's error shape (never 429 or 500, never a raw
google.rpc.Status, never quoting a credential), client-sent x-request-id and x-envoy-* headers ignored,
and slow clients cut. The stack's limits are the defaults except the timeouts (tests/conftest.py)."""

from __future__ import annotations

import json
import secrets
import select
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from http.client import HTTPResponse
from typing import Any

import pytest

from devstack.envoy_config import EdgeSettings
from devstack.stack import Stack
from tests.auth.conftest import PASSWORD, Rest, unique_email
from tests.conftest import CORS_ORIGIN, REQUEST_HEADERS_TIMEOUT_SECONDS, REQUEST_TIMEOUT_SECONDS, TINY_MODEL_NAME
from tests.support.openai_spec import assert_error, sse_events

EDGE = EdgeSettings()  # the stack runs the default limits
MIB = 1024 * 1024


def http(
    stack: Stack, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, token: str = ""
) -> tuple[int, dict[str, str], bytes]:
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    all_headers = {"content-type": "application/json", **(headers or {})}
    if token:
        all_headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(stack.http_url + path, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def openai_error(status: int, body: bytes, expected: int, *, leaks: Iterable[str] = ()) -> dict[str, Any]:
    """The body is OpenAI's ErrorResponse (not a google.rpc.Status), with the expected status, quoting none of
    `leaks`."""
    assert status == expected, (status, body[:500])
    parsed = json.loads(body)
    assert_error(parsed)
    text = body.decode()
    for secret in leaks:
        assert secret not in text, f"the error body quotes {secret[:40]!r}"
    return parsed["error"]


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": TINY_MODEL_NAME, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2, **fields}


# -- raw HTTP/1.1: big uploads whose answer comes early, and slow clients ----------------------------------


def _connect(stack: Stack) -> socket.socket:
    return socket.create_connection(("127.0.0.1", stack.config.http_port), timeout=60)


def upload(stack: Stack, path: str, token: str, length: int | None, chunks: Iterable[bytes]) -> tuple[int, bytes]:
    """POSTs a body chunk by chunk (with a content-length of `length`, or chunked when None), as a client that
    reads Envoy's answer while it sends (curl does; a refusal comes before the body ends). Returns the status
    and body."""
    sock = _connect(stack)
    with sock:
        framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
        credential = f"Authorization: Bearer {token}\r\n" if token else ""
        head = (
            f"POST {path} HTTP/1.1\r\nHost: jan.test\r\nContent-Type: application/json\r\n{credential}{framing}\r\n\r\n"
        )
        sock.sendall(head.encode())
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # answered already
            try:
                sock.sendall(chunk if length is not None else b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
        else:
            if length is None:
                sock.sendall(b"0\r\n\r\n")
        response = HTTPResponse(sock)
        response.begin()
        return response.status, response.read()


def json_string_body(prefix: bytes, length: int, suffix: bytes = b'"}') -> tuple[int, Iterator[bytes]]:
    """A JSON body `prefix` + "x" * n + `suffix` of `length` bytes, made 1 MiB at a time."""
    fill = length - len(prefix) - len(suffix)

    def chunks() -> Iterator[bytes]:
        yield prefix
        left = fill
        while left > 0:
            yield b"x" * min(MIB, left)
            left -= MIB
        yield suffix

    return length, chunks()


# -- A. CORS and the refresh cookie -------------------------------------------------------------------


def preflight(stack: Stack, origin: str, request_headers: str = "authorization,content-type") -> dict[str, str]:
    _, headers, _ = http(
        stack,
        "OPTIONS",
        "/v1/auth/refresh",
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": request_headers,
        },
    )
    return headers


def test_cors_answers_only_the_listed_origin(stack: Stack) -> None:
    allowed = preflight(stack, CORS_ORIGIN, "content-type,x-requested-with")
    assert allowed["access-control-allow-origin"] == CORS_ORIGIN
    assert allowed["access-control-allow-credentials"] == "true"
    assert "x-requested-with" in allowed["access-control-allow-headers"]
    for origin in ("null", "https://evil.example", f"{CORS_ORIGIN}.evil.example", "http://localhost:13370"):
        refused = preflight(stack, origin)
        assert not [h for h in refused if h.startswith("access-control-allow")], (origin, refused)


def test_cors_headers_never_reach_an_unlisted_origin_on_a_real_request(stack: Stack, rest: Rest) -> None:
    session = rest.register()
    for origin in ("null", "https://evil.example"):
        status, headers, _ = http(
            stack,
            "POST",
            "/v1/auth/refresh",
            {"refresh_token": "not-a-token"},
            headers={"origin": origin, "cookie": f"jan_refresh_token={session['refresh_token']}"},
        )
        assert "access-control-allow-origin" not in headers and "access-control-allow-credentials" not in headers
        assert status in (401, 403)


def test_a_refresh_from_the_cookie_needs_a_header_a_form_cannot_send(stack: Stack, rest: Rest) -> None:
    session = rest.register()
    cookie = {"cookie": f"jan_refresh_token={session['refresh_token']}", "origin": CORS_ORIGIN}
    status, headers, body = http(stack, "POST", "/v1/auth/refresh", {}, headers=cookie)
    error = openai_error(status, body, 403, leaks=[session["refresh_token"]])
    assert error["type"] == "permission_error" and "X-Requested-With" in error["message"]
    assert "set-cookie" not in headers
    # Form-encoded, as a plain HTML form posts it: the same refusal.
    status, _, body = http(
        stack, "POST", "/v1/auth/logout", b"", headers={**cookie, "content-type": "application/x-www-form-urlencoded"}
    )
    openai_error(status, body, 403)

    status, headers, body = http(
        stack, "POST", "/v1/auth/refresh", {}, headers={**cookie, "x-requested-with": "XMLHttpRequest"}
    )
    assert status == 200, body
    assert headers["access-control-allow-origin"] == CORS_ORIGIN
    rotated = json.loads(body)["refresh_token"]
    status, _, body = http(stack, "POST", "/v1/auth/refresh", {"refresh_token": rotated})  # no header needed
    assert status == 200, body


# -- B1. Non-finite numbers and bad logit_bias keys -----------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"temperature": "NaN"}, "temperature"),
        ({"temperature": "Infinity"}, "temperature"),
        ({"temperature": "-Infinity"}, "temperature"),
        ({"top_p": "NaN"}, "top_p"),
        ({"presence_penalty": "Infinity"}, "presence_penalty"),
        ({"logit_bias": {"²": 1}}, "logit_bias"),
        ({"logit_bias": {"99999999999": 1}}, "logit_bias"),
        ({"logit_bias": {"-1": 1}}, "logit_bias"),
        ({"logit_bias": {"1": "NaN"}}, "logit_bias"),
    ],
)
def test_non_finite_numbers_and_bad_logit_bias_are_a_400_naming_the_param(
    stack: Stack, guest_token: str, fields: dict[str, Any], param: str, stream: bool
) -> None:
    status, _, body = http(stack, "POST", "/v1/chat/completions", chat(stream=stream, **fields), token=guest_token)
    error = openai_error(status, body, 400)
    assert error["param"] == param and error["type"] == "invalid_request_error"


# -- B2. Oversized sign-in input -----------------------------------------------------------------------


@pytest.mark.parametrize("route", ["/v1/auth/login", "/v1/auth/register"])
@pytest.mark.parametrize(
    ("email", "password", "param"),
    [
        (secrets.token_hex(5000) + "@example.com", PASSWORD, "email"),
        ("\ufdfa" * 200 + "@example.com", PASSWORD, "email"),  # NFKC makes each of these 18 characters
        (None, "p" * 5000, "password"),
    ],
    ids=["10kb-email", "expanding-email", "5kb-password"],
)
def test_oversized_sign_in_input_is_a_400_naming_it(
    stack: Stack, route: str, email: str | None, password: str, param: str
) -> None:
    status, _, body = http(stack, "POST", route, {"email": email or unique_email(), "password": password})
    error = openai_error(status, body, 400, leaks=[password])
    assert error["param"] == param


# -- B3. Bodies over the limit -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "prefix"),
    [
        ("/v1/conversations", b'{"title": "'),  # a field the API has
        ("/v1/conversations", b'{"no_such_field": "'),  # unknown fields (the transcoder drops them)
        ("/v1/chat/completions", b'{"model": "m", "messages": [], "x": "'),  # read whole by edge.lua
    ],
    ids=["title", "unknown-field", "chat"],
)
def test_a_body_over_the_limit_is_a_413(stack: Stack, guest_token: str, path: str, prefix: bytes) -> None:
    length, chunks = json_string_body(prefix, EDGE.max_request_bytes + MIB)
    status, body = upload(stack, path, guest_token, length, chunks)
    error = openai_error(status, body, 413, leaks=[guest_token])
    assert error["code"] == "request_too_large" and str(EDGE.max_request_bytes) in error["message"]


@pytest.mark.parametrize("path", ["/v1/conversations", "/v1/chat/completions"])
def test_a_100_mb_body_is_refused_on_its_headers(stack: Stack, path: str) -> None:
    """Refused before a byte of it is read, and before auth is asked (no credential: still 413, not 401), so
    a slow authorization check cannot leave it waiting (buffering after ext_authz once stalled into a 408)."""
    started = time.monotonic()
    length, chunks = json_string_body(b'{"no_such_field": "', 100 * MIB)
    status, body = upload(stack, path, "", length, chunks)
    assert openai_error(status, body, 413)["code"] == "request_too_large"
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("path", ["/v1/conversations", "/v1/chat/completions"])
def test_a_chunked_body_over_the_limit_is_a_413(stack: Stack, guest_token: str, path: str) -> None:
    """No content-length to refuse on: Envoy counts what arrives."""
    _, chunks = json_string_body(b'{"no_such_field": "', EDGE.max_request_bytes + MIB)
    status, body = upload(stack, path, guest_token, None, chunks)
    assert openai_error(status, body, 413, leaks=[guest_token])["code"] == "request_too_large"


def test_a_chunked_body_under_the_limit_passes(stack: Stack, guest_token: str) -> None:
    _, chunks = json_string_body(b'{"metadata": {"k": "v"}, "no_such_field": "', 2 * MIB)
    status, body = upload(stack, "/v1/conversations", guest_token, None, chunks)
    assert status == 200, body[:300]
    assert json.loads(body)["metadata"] == {"k": "v"}


def test_a_body_under_the_limit_but_over_the_old_one_still_passes(stack: Stack, guest_token: str) -> None:
    """8 MiB of unknown field: under the edge's limit, passed on (and its unknown field dropped)."""
    length, chunks = json_string_body(b'{"metadata": {"k": "v"}, "no_such_field": "', 8 * MIB)
    status, body = upload(stack, "/v1/conversations", guest_token, length, chunks)
    assert status == 200, body[:300]
    assert json.loads(body)["metadata"] == {"k": "v"}


# -- B4. Top-level keys and long names that would overflow gRPC metadata ----------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize(
    "extra",
    [{f"k{i}": 1 for i in range(10_000)}, {"k" * 20_000: 1}, {f"key_{i:03}": 1 for i in range(200)}],
    ids=["10000-keys", "20000-char-key", "200-keys"],
)
def test_too_many_top_level_fields_are_a_400(
    stack: Stack, guest_token: str, extra: dict[str, int], stream: bool
) -> None:
    status, _, body = http(stack, "POST", "/v1/chat/completions", chat(stream=stream, **extra), token=guest_token)
    error = openai_error(status, body, 400)
    assert "too many top-level fields" in error["message"] and error["code"] == "too_many_fields"


def test_a_few_unknown_fields_are_still_named(stack: Stack, guest_token: str) -> None:
    status, _, body = http(stack, "POST", "/v1/chat/completions", chat(no_such_field=1), token=guest_token)
    assert openai_error(status, body, 400)["param"] == "no_such_field"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("model", ["m" * 20_000, "\U0001f600" * 5000, "\u2028" * 8000], ids=["ascii", "emoji", "ls"])
def test_a_long_model_name_is_a_404_with_a_short_message(
    stack: Stack, guest_token: str, model: str, stream: bool
) -> None:
    status, _, body = http(stack, "POST", "/v1/chat/completions", chat(model=model, stream=stream), token=guest_token)
    error = openai_error(status, body, 404)
    assert error["code"] == "model_not_found" and error["param"] == "model"
    assert len(body) < 8192


# -- B5. Oversized headers -------------------------------------------------------------------------------


def test_oversized_headers_are_a_431_that_quotes_none_of_them(stack: Stack) -> None:
    credential = "sk-" + secrets.token_hex(EDGE.max_request_headers_kb * 1024)
    status, _, body = http(stack, "GET", "/v1/models", headers={"authorization": f"Bearer {credential}"})
    error = openai_error(status, body, 431, leaks=[credential[:24]])
    assert error["code"] == "request_headers_too_large"
    status, _, body = http(stack, "GET", "/v1/models", headers={"x-anything": credential})
    openai_error(status, body, 431, leaks=[credential[:24]])


def test_a_long_credential_under_the_limit_is_refused_without_quoting_it(stack: Stack) -> None:
    """Over the auth endpoint's old 8 KiB parser limit (which answered 400 quoting it), under Envoy's."""
    credential = "sk-" + secrets.token_hex(5 * 1024)
    status, _, body = http(stack, "GET", "/v1/models", headers={"authorization": f"Bearer {credential}"})
    openai_error(status, body, 401, leaks=[credential[:24]])


def test_large_headers_under_the_limit_pass_every_time(stack: Stack, guest_token: str) -> None:
    """Headers of 12 KiB: under Envoy's 16 KiB, and passed on as gRPC metadata the services accept (gRPC's
    default refused such calls at random, as 429)."""
    for _ in range(10):
        status, _, body = http(stack, "GET", "/v1/models", headers={"x-pad": "p" * 12 * 1024}, token=guest_token)
        assert status == 200, body[:300]


# -- B6. Client-sent x-request-id and x-envoy-* ----------------------------------------------------------


def test_client_request_ids_and_envoy_headers_are_not_trusted(stack: Stack, guest_token: str) -> None:
    marker = "INJECTED-" + secrets.token_hex(4)
    status, headers, body = http(
        stack,
        "GET",
        "/v1/no-such-route",
        headers={"x-envoy-original-path": f'/{marker}" fake', "x-request-id": marker},
        token=guest_token,
    )
    error = openai_error(status, body, 404, leaks=[marker])
    assert error["message"] == "Unknown request URL: GET /v1/no-such-route"
    assert headers["x-request-id"] != marker
    status, headers, _ = http(stack, "GET", "/v1/models", headers={"x-request-id": marker}, token=guest_token)
    assert status == 200 and headers["x-request-id"] != marker
    request_id = headers["x-request-id"]
    log = stack.log_path("envoy")
    deadline = time.monotonic() + 30  # the access log is flushed every few seconds
    while request_id not in log.read_text(errors="replace") and time.monotonic() < deadline:
        time.sleep(0.5)
    text = log.read_text(errors="replace")
    assert request_id in text and marker not in text


# -- B7. Slow clients --------------------------------------------------------------------------------------


def _closed_after(sock: socket.socket, send: Iterator[bytes], pause: float, limit: float) -> tuple[float, bytes]:
    """Sends one piece per `pause` until Envoy answers or closes; returns the seconds that took and what it
    answered."""
    started = time.monotonic()
    received = b""
    for piece in send:
        if time.monotonic() - started > limit:
            raise AssertionError(f"the connection was still open after {limit:.0f}s")
        readable, _, _ = select.select([sock], [], [], pause)
        if readable:
            break
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - started, received
    sock.settimeout(limit)
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return time.monotonic() - started, received


def _forever(piece: bytes) -> Iterator[bytes]:
    while True:
        yield piece


def test_headers_sent_byte_by_byte_are_cut_at_the_headers_timeout(stack: Stack) -> None:
    sock = _connect(stack)
    with sock:
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: jan.test\r\nx-slow: ")
        elapsed, answer = _closed_after(sock, _forever(b"a"), 0.5, REQUEST_HEADERS_TIMEOUT_SECONDS + 5)
    assert REQUEST_HEADERS_TIMEOUT_SECONDS - 1 <= elapsed <= REQUEST_HEADERS_TIMEOUT_SECONDS + 3, elapsed
    assert b"200 OK" not in answer


def test_a_trickled_body_is_cut_at_the_request_timeout_with_a_408(stack: Stack, guest_token: str) -> None:
    sock = _connect(stack)
    with sock:
        sock.sendall(
            (
                "POST /v1/conversations HTTP/1.1\r\nHost: jan.test\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {guest_token}\r\nContent-Length: 1000\r\n\r\n{{"
            ).encode()
        )
        elapsed, answer = _closed_after(sock, _forever(b" "), 0.5, REQUEST_TIMEOUT_SECONDS + 5)
    assert REQUEST_TIMEOUT_SECONDS - 1 <= elapsed <= REQUEST_TIMEOUT_SECONDS + 3, elapsed
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:300]
    error = json.loads(body)
    assert_error(error)
    assert error["error"]["code"] == "request_timeout"


def test_a_stream_outlives_the_request_timeout(stack: Stack, rest: Rest) -> None:
    """The request timer stops once the request is upstream: answers, streamed ones above all, run on."""
    token = rest.register()["access_token"]  # 3 x 1,000 tokens is more than a guest may ask for at once
    started = time.monotonic()
    status, _, body = http(
        stack,
        "POST",
        "/v1/chat/completions",
        chat(stream=True, n=3, temperature=1, max_tokens=1000, min_tokens=1000),
        token=token,
    )
    elapsed = time.monotonic() - started
    assert status == 200
    events = sse_events(body)  # ends with [DONE]
    assert sum(1 for e in events if e["choices"] and e["choices"][0]["finish_reason"] == "length") == 3
    assert elapsed > REQUEST_TIMEOUT_SECONDS, f"the stream took {elapsed:.1f}s: too short to show anything"


# -- B8. An object where a map holds strings -------------------------------------------------------------


@pytest.mark.parametrize("value", [{}, {"a": "b"}, [{}]], ids=["empty-object", "object", "list-of-object"])
def test_a_non_string_metadata_value_is_a_400_on_every_route(stack: Stack, guest_token: str, value: Any) -> None:
    status, _, body = http(stack, "POST", "/v1/conversations", {}, token=guest_token)
    assert status == 200, body
    conversation = json.loads(body)["id"]
    for method, path, request in [
        ("POST", "/v1/conversations", {"metadata": {"k": value}}),
        ("POST", f"/v1/conversations/{conversation}", {"metadata": {"k": value}}),
        ("POST", "/v1/chat/completions", chat(metadata={"k": value})),
        ("POST", "/v1/chat/completions", chat(metadata={"k": value}, stream=True)),
        ("POST", "/v1/chat/completions", chat(logit_bias={"1": value})),
    ]:
        status, _, body = http(stack, method, path, request, token=guest_token)
        error = openai_error(status, body, 400)
        assert error["type"] == "invalid_request_error", (path, error)
        assert "Wire format" not in error["message"] and "DecodeError" not in error["message"]


# -- gRPC's own refusals (no x-jan-error) --------------------------------------------------------------------


@pytest.mark.disrupts_stack
def test_a_grpc_refusal_reaches_a_rest_client_in_openai_shape(stack: Stack, guest_token: str) -> None:
    """Chat restarted with a 1 MiB gRPC message limit, under the edge's body limit: its gRPC runtime refuses
    2 MiB with RESOURCE_EXHAUSTED and a message of its own (the transcoder's google.rpc.Status JSON, as 429,
    which the SDKs would retry); edge.lua answers 413 in OpenAI's shape instead."""
    saved = dict(stack.config.env)
    stack.stop_process("chat")
    try:
        stack.config.env["JAN_GRPC_MAX_MESSAGE_BYTES"] = str(MIB)
        stack.start_service("chat")
        stack.wait_for_service("chat")
        stack.wait_until_healthy(120)
        content = "x" * 2 * MIB
        for path, request in [
            ("/v1/conversations", {"items": [{"type": "message", "role": "user", "content": content}]}),
            ("/v1/chat/completions", chat(messages=[{"role": "user", "content": content}])),
            ("/v1/chat/completions", chat(messages=[{"role": "user", "content": content}], stream=True)),
        ]:
            status, _, body = http(stack, "POST", path, request, token=guest_token)
            error = openai_error(status, body, 413)
            assert error["code"] == "request_too_large" and "larger than max" not in error["message"]
    finally:
        stack.config.env.clear()
        stack.config.env.update(saved)
        stack.stop_process("chat")
        stack.start_service("chat")
        stack.wait_for_service("chat")
        stack.wait_until_healthy(600)
