"""A minimal, fast OpenAI-compatible upstream for gateway benchmarks: answers POST /v1/chat/completions at
once with a canned answer of N tokens ("tok " each, like the inference service's instant engine), as JSON or
as an SSE stream (one chunk per token, finish, optional usage chunk, `data: [DONE]`).

    .venv/bin/python -m bench.mock_openai --port 18000 [--tokens 16]

A raw asyncio protocol on uvloop (HTTP/1.1 keep-alive, Content-Length or chunked request bodies), so the
mock itself costs tens of microseconds per request; it prints `ready <port>` once listening and stops on
SIGTERM/SIGINT. GET /health answers 200. It is what LiteLLM's proxy is pointed at in bench/gateway_overhead.py,
the way LiteLLM's own benchmarks use a mock provider.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time

_CREATED = int(time.time())


def completion_body(model: str, tokens: int, token_text: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "created": _CREATED,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": token_text * tokens},
                    "logprobs": None,
                    "finish_reason": "length",
                }
            ],
            "usage": {"prompt_tokens": 8, "completion_tokens": tokens, "total_tokens": 8 + tokens},
        },
        separators=(",", ":"),
    ).encode()


def _chunk(model: str, delta: dict, finish: str | None, usage: dict | None = None) -> bytes:
    body: dict = {
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": _CREATED,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}] if usage is None else [],
    }
    if usage is not None:
        body["usage"] = usage
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


def stream_events(model: str, tokens: int, token_text: str, include_usage: bool) -> list[bytes]:
    events = [_chunk(model, {"role": "assistant", "content": ""}, None)]
    events += [_chunk(model, {"content": token_text}, None) for _ in range(tokens)]
    events.append(_chunk(model, {}, "length"))
    if include_usage:
        usage = {"prompt_tokens": 8, "completion_tokens": tokens, "total_tokens": 8 + tokens}
        events.append(_chunk(model, {}, None, usage))
    events.append(b"data: [DONE]\n\n")
    return events


class MockOpenAI(asyncio.Protocol):
    def __init__(self, tokens: int, token_text: str) -> None:
        self._tokens = tokens
        self._text = token_text
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._cache: dict[tuple[str, int], bytes] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while self._handle_one():
            pass

    def _handle_one(self) -> bool:
        """Handles one complete request from the buffer; False when more bytes are needed."""
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        method, path, _ = [*head[0].split(" ", 2), "", ""][:3]
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        start = end + 4
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = bytearray()
            pos = start
            while True:
                line_end = self._buffer.find(b"\r\n", pos)
                if line_end < 0:
                    return False
                size = int(bytes(self._buffer[pos:line_end]).split(b";")[0], 16)
                if len(self._buffer) < line_end + 2 + size + 2:
                    return False
                body += self._buffer[line_end + 2 : line_end + 2 + size]
                pos = line_end + 2 + size + 2
                if size == 0:
                    break
            consumed = pos
        else:
            length = int(headers.get("content-length", "0") or 0)
            if len(self._buffer) < start + length:
                return False
            body = self._buffer[start : start + length]
            consumed = start + length
        del self._buffer[:consumed]
        self._respond(method, path.split("?", 1)[0], bytes(body), headers.get("connection", "").lower() == "close")
        return True

    def _respond(self, method: str, path: str, body: bytes, close: bool) -> None:
        transport = self._transport
        assert transport is not None
        if method == "GET" and path in ("/health", "/v1/models", "/models"):
            payload = b'{"object":"list","data":[]}'
            transport.write(_head(200, "application/json", len(payload)) + payload)
        elif method == "POST" and path in ("/v1/chat/completions", "/chat/completions"):
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                request = {}
            model = str(request.get("model", "mock"))
            tokens = min(self._tokens, int(request.get("max_tokens") or request.get("max_completion_tokens") or 1e9))
            if request.get("stream"):
                include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
                transport.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
                    b"transfer-encoding: chunked\r\n\r\n"
                )
                for event in stream_events(model, tokens, self._text, include_usage):
                    transport.write(b"%x\r\n%s\r\n" % (len(event), event))
                transport.write(b"0\r\n\r\n")
            else:
                payload = self._cache.get((model, tokens))
                if payload is None:
                    payload = self._cache[(model, tokens)] = completion_body(model, tokens, self._text)
                transport.write(_head(200, "application/json", len(payload)) + payload)
        else:
            payload = b'{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":null}}'
            transport.write(_head(404, "application/json", len(payload)) + payload)
        if close:
            transport.close()


def _head(status: int, content_type: str, length: int) -> bytes:
    reason = {200: "OK", 404: "Not Found"}[status]
    return f"HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {length}\r\n\r\n".encode()


async def serve(host: str, port: int, tokens: int, token_text: str) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: MockOpenAI(tokens, token_text), host, port, backlog=1024)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
    await stop.wait()
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--token-text", default="tok ")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(args.host, args.port, args.tokens, args.token_text))


if __name__ == "__main__":
    main()
