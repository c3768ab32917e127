"""Faults through Envoy (issue 16): what a client sees when a part of the system breaks, and that the system
heals by itself. Each test breaks a stack of its own (this module's: the instant engine, an embedded
PostgreSQL it can restart, its own Serper stand-in), never the session's shared one.

- inference killed mid-stream: an in-band error event, and the partial answer stored with status incomplete;
- PostgreSQL restarted: fast 503s in OpenAI's shape (UNAVAILABLE natively) while it is down, success after,
  no service restarted, and the LISTEN connections back (a clean shutdown after it);
- auth down or frozen: Envoy answers a 503 JSON within ext_authz's timeout, not a hang;
- Serper failing: the completion still answers, the search is a failed web_search_call item, MCP's tool
  call an error result;
- a client that stops reading: the services' memory stays flat (flow control holds the stream back), and it
  gets the whole answer when it reads again;
- SIGTERM under load: the chat replica drains the streams in flight, then exits 0.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
from collections.abc import Iterator

import asyncpg
import grpc
import httpx
import psutil
import pytest

from devstack.stack import Stack, StackConfig
from jan.v1 import chat_service_pb2 as chat_pb
from jan.v1 import chat_service_pb2_grpc
from services.common.errors import ERROR_METADATA_KEY
from tests.support.fake_serper import FakeSerper
from tests.support.openai_spec import assert_error

MODEL = "instant"
STREAM_TOKENS = 30_000  # the longest answer the instant engine gives here (max_tokens picks less)


@pytest.fixture(scope="module")
def serper() -> Iterator[FakeSerper]:
    server = FakeSerper()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory, serper: FakeSerper) -> Iterator[Stack]:
    run_dir = tmp_path_factory.mktemp("faults")
    env = {
        "JAN_ENGINE": "instant",
        "JAN_SERVED_MODEL_NAME": MODEL,
        "JAN_INSTANT_TOKENS": str(STREAM_TOKENS),
        "JAN_JWT_SECRET": "faults-jwt-secret-0123456789abcdef0123456789",
        "JAN_APIKEY_SECRET": "faults-apikey-secret-0123456789abcdef0123456",
        "JAN_GUEST_REQUESTS_PER_MINUTE": "0",
        "JAN_GUEST_ACCOUNTS_PER_IP_PER_HOUR": "0",
        "JAN_GUEST_MAX_OUTPUT_TOKENS": str(STREAM_TOKENS),
        "JAN_ACCESS_TOKEN_TTL_SECONDS": "3600",
        "JAN_SHUTDOWN_GRACE_SECONDS": "15",
        "JAN_USAGE_FLUSH_SECONDS": "0.2",
        **serper.env(),
    }
    config = StackConfig.on_free_ports(
        run_dir=run_dir, data_dir=run_dir / "pgdata", durable_postgres=False, metrics=False, env=env
    )
    stack = Stack(config)
    stack.start(timeout=120)
    yield stack
    stack.stop()


def guest(stack: Stack) -> str:
    response = httpx.post(f"{stack.http_url}/v1/auth/guest-login", json={}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def ask(**fields: object) -> dict:
    return {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8, **fields}


def restart(stack: Stack, service: str, **env: str) -> None:
    """Restarts one service with `env` on top of the stack's (an empty value removes a variable)."""
    stack.stop_process(service)
    for key, value in env.items():
        if value:
            stack.config.env[key] = value
        else:
            stack.config.env.pop(key, None)
    stack.start_service(service)
    stack.wait_for_service(service, timeout=120)
    stack.wait_until_healthy(120)
    answering(stack)


def answering(stack: Stack) -> None:
    """Waits until a completion passes end to end (Envoy's health checks and chat's channels reconnect)."""
    token = guest(stack)
    ok = eventually_ok(
        lambda: httpx.post(f"{stack.http_url}/v1/chat/completions", json=ask(), headers=bearer(token), timeout=30)
    )
    assert ok.status_code == 200, ok.text


def eventually_ok(call, seconds: float = 20) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        response = call()
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def sse_events(lines: Iterator[str]) -> Iterator[dict | str]:
    for line in lines:
        if line.startswith("data: "):
            data = line[len("data: ") :]
            yield data if data == "[DONE]" else json.loads(data)


def items_of(stack: Stack, token: str, conversation: str) -> list[dict]:
    response = httpx.get(
        f"{stack.http_url}/v1/conversations/{conversation}/items", params={"order": "asc"}, headers=bearer(token)
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def rss_mb(stack: Stack, *names: str) -> float:
    total = 0
    for name in names:
        process = psutil.Process(stack.processes[name].pid)
        total += sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])
    return total / 2**20


# -- inference killed mid-stream -------------------------------------------------------------------------------


def test_inference_killed_mid_stream_is_an_in_band_error_and_the_partial_answer_is_stored_incomplete(
    faulty: Stack,
) -> None:
    token = guest(faulty)
    restart(faulty, "inference", JAN_INSTANT_TOKEN_SECONDS="0.01")  # 2,000 tokens: a 20 s stream
    try:
        body = ask(max_tokens=2000, stream=True, store=True)
        with httpx.stream(
            "POST", f"{faulty.http_url}/v1/chat/completions", json=body, headers=bearer(token), timeout=30
        ) as response:
            assert response.status_code == 200
            conversation = response.headers["x-jan-conversation-id"]
            events = sse_events(response.iter_lines())
            received = [next(events) for _ in range(20)]  # the role, then tokens
            faulty.kill_process("inference")  # SIGKILL: the engine's host dies with the stream half sent
            received += list(events)
        assert "[DONE]" not in received  # a stream cut short does not pretend to end well
        error = received[-1]
        assert isinstance(error, dict) and "error" in error, received[-3:]
        assert_error(error)
        assert error["error"]["type"] == "service_unavailable_error"
        chunks = [e for e in received if isinstance(e, dict) and "choices" in e]
        sent = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
        assert sent.count("tok") >= 18

        def stored() -> list[dict]:
            return items_of(faulty, token, conversation)

        deadline = time.monotonic() + 10
        while len(stored()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        question, answer = stored()
        assert question["role"] == "user" and question["status"] == "completed"
        assert answer["role"] == "assistant" and answer["status"] == "incomplete"
        partial = answer["content"][0]["text"]
        assert partial.startswith(sent) and 0 < partial.count("tok") < 2000
    finally:
        restart(faulty, "inference", JAN_INSTANT_TOKEN_SECONDS="")


# -- PostgreSQL restarted --------------------------------------------------------------------------------------


def test_postgres_restarted_gives_fast_503s_then_heals_without_restarting_a_service(faulty: Stack) -> None:
    assert faulty.postgres is not None
    token = guest(faulty)
    pids = {name: p.pid for name, p in faulty.processes.items()}
    url = f"{faulty.http_url}/v1/chat/completions"
    assert httpx.post(url, json=ask(store=True), headers=bearer(token)).status_code == 200

    faulty.postgres.stop()
    try:
        for method, path, body in [
            ("POST", "/v1/chat/completions", ask(store=True)),
            ("GET", "/v1/conversations", None),
            ("POST", "/v1/auth/guest-login", {}),
        ]:
            started = time.monotonic()
            response = httpx.request(method, faulty.http_url + path, json=body, headers=bearer(token), timeout=30)
            assert time.monotonic() - started < 2, (path, "a 503 comes at once, not after a timeout")
            assert response.status_code == 503, (path, response.text)
            assert_error(response.json())
            assert response.json()["error"]["type"] == "service_unavailable_error"
        _native_unavailable(faulty, token)
    finally:
        faulty.postgres.start()

    # Back by themselves: pools reconnect, the listeners listen again; nothing was restarted.
    ok = eventually_ok(lambda: httpx.post(url, json=ask(store=True), headers=bearer(token), timeout=30))
    assert ok.status_code == 200, ok.text
    assert httpx.get(f"{faulty.http_url}/v1/conversations", headers=bearer(token)).status_code == 200
    assert guest(faulty)
    assert {name: p.pid for name, p in faulty.processes.items()} == pids
    assert all(p.poll() is None for p in faulty.processes.values())
    deadline = time.monotonic() + 15
    for service, channel in (("chat", "jan_responses_queued"), ("auth", "jan_auth_invalidate")):
        while f"the {channel} listener is listening again" not in faulty.log_path(service).read_text():
            assert time.monotonic() < deadline, f"{service} did not LISTEN again"
            time.sleep(0.1)
    # A background response is taken and finished after the restart.
    created = httpx.post(
        f"{faulty.http_url}/v1/responses",
        json={"model": MODEL, "input": "Hi", "background": True, "max_output_tokens": 8},
        headers=bearer(token),
        timeout=30,
    ).json()
    deadline = time.monotonic() + 15
    while (status := httpx.get(f"{faulty.http_url}/v1/responses/{created['id']}", headers=bearer(token)).json())[
        "status"
    ] in ("queued", "in_progress"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert status["status"] == "incomplete"  # its 8 tokens ran out: generated, not failed
    assert status["incomplete_details"]["reason"] == "max_output_tokens" and status["output"]
    # And chat still stops cleanly (its listener's connection died with the old server).
    assert faulty.stop_process("chat") == 0
    faulty.start_service("chat")
    faulty.wait_for_service("chat")
    answering(faulty)


# -- auth down -------------------------------------------------------------------------------------------------


def _native_unavailable(stack: Stack, token: str) -> dict:
    """A native gRPC call through Envoy fails UNAVAILABLE with a plain message and the OpenAI-shaped error in
    x-jan-error, as the services' own errors come; answers that error."""
    with grpc.insecure_channel(stack.grpc_target) as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.ListConversations(chat_pb.ListConversationsRequest(), metadata=tuple(bearer(token).items()), timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    error = json.loads(dict(refused.value.trailing_metadata())[ERROR_METADATA_KEY])
    assert_error(error)
    assert refused.value.details() == error["error"]["message"]
    return error["error"]


def _refused_quickly(stack: Stack, token: str, within: float) -> None:
    started = time.monotonic()
    response = httpx.post(f"{stack.http_url}/v1/chat/completions", json=ask(), headers=bearer(token), timeout=30)
    assert time.monotonic() - started < within
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/json"
    assert_error(response.json())
    assert response.json()["error"]["code"] == "auth_unavailable"


def test_usage_counted_while_the_database_is_down_is_written_when_it_is_back(faulty: Stack) -> None:
    """A stream that ends during an outage is metered in memory, kept through the failed flushes and written
    once the database is back: counted once, not lost."""
    assert faulty.postgres is not None and faulty.database_url is not None
    signed_in = httpx.post(f"{faulty.http_url}/v1/auth/guest-login", json={}, timeout=30).json()
    user_id, token = signed_in["user"]["id"], signed_in["access_token"]
    body = ask(max_tokens=STREAM_TOKENS, stream=True, stream_options={"include_usage": True})
    log = faulty.log_path("chat")
    failures_before = log.read_text().count("writing usage failed")
    with httpx.stream("POST", f"{faulty.http_url}/v1/chat/completions", json=body, headers=bearer(token)) as stream:
        lines = stream.iter_lines()
        assert next(e for e in sse_events(lines) if isinstance(e, dict))["choices"]  # under way; not read on, so it
        faulty.postgres.stop()  # cannot end before the database is down (flow control holds it)
        try:
            events = list(sse_events(lines))
            usage = next(e for e in events if isinstance(e, dict) and e.get("usage"))["usage"]
            deadline = time.monotonic() + 10
            while log.read_text().count("writing usage failed") == failures_before:  # a flush failed: kept
                assert time.monotonic() < deadline, "no flush failed while the database was down"
                time.sleep(0.1)
        finally:
            faulty.postgres.start()

    async def written() -> tuple[int, int, int]:
        connection = await asyncpg.connect(faulty.database_url)
        try:
            row = await connection.fetchrow(
                "SELECT coalesce(sum(input_tokens), 0) AS i, coalesce(sum(output_tokens), 0) AS o,"
                " coalesce(sum(requests), 0) AS n FROM chat.usage_1m WHERE user_id = $1",
                user_id,
            )
            return row["i"], row["o"], row["n"]
        finally:
            await connection.close()

    expected = (usage["prompt_tokens"], usage["completion_tokens"], 1)
    deadline = time.monotonic() + 20
    while (got := asyncio.run(written())) != expected:
        assert time.monotonic() < deadline, f"usage written {got}, expected {expected}"
        time.sleep(0.2)
    time.sleep(1)  # more flushes: still counted once
    assert asyncio.run(written()) == expected


def test_auth_down_or_frozen_is_a_503_json_not_a_hang(faulty: Stack) -> None:
    token = guest(faulty)
    faulty.stop_process("auth")
    try:
        _refused_quickly(faulty, token, within=1)
        assert _native_unavailable(faulty, token)["code"] == "auth_unavailable"
    finally:
        faulty.start_service("auth")
        faulty.wait_for_service("auth")
        faulty.wait_until_healthy(60)
    frozen = faulty.processes["auth"].pid
    os.killpg(frozen, signal.SIGSTOP)  # alive, accepting connections, answering nothing
    try:
        _refused_quickly(faulty, token, within=4)  # ext_authz's own timeout (2 s) bounds it
    finally:
        os.killpg(frozen, signal.SIGCONT)
    ok = eventually_ok(
        lambda: httpx.post(f"{faulty.http_url}/v1/chat/completions", json=ask(), headers=bearer(token), timeout=30)
    )
    assert ok.status_code == 200, ok.text


# -- Serper failing --------------------------------------------------------------------------------------------


def test_serper_failing_is_a_clean_tool_error(faulty: Stack, serper: FakeSerper) -> None:
    token = guest(faulty)
    serper.fail_next(1000, 500)
    try:
        answered = httpx.post(
            f"{faulty.http_url}/v1/chat/completions",
            json=ask(web_search_options={}, store=True),
            headers=bearer(token),
            timeout=60,
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["choices"][0]["message"]["content"]
        conversation = answered.headers["x-jan-conversation-id"]
        kinds = [(i["type"], i.get("status")) for i in items_of(faulty, token, conversation)]
        assert ("web_search_call", "failed") in kinds and kinds[-1] == ("message", "completed")

        with httpx.stream(
            "POST",
            f"{faulty.http_url}/v1/chat/completions",
            json=ask(web_search_options={}, stream=True),
            headers=bearer(token),
            timeout=60,
        ) as streamed:
            events = list(sse_events(streamed.iter_lines()))
        assert events[-1] == "[DONE]" and not any(isinstance(e, dict) and "error" in e for e in events)
        assert serper.requests_for("search"), "the search service did call Serper"
    finally:
        serper.clear_faults()


# -- a client that stops reading -------------------------------------------------------------------------------


def _open_stream(stack: Stack, token: str, body: bytes) -> socket.socket:
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.connect(("127.0.0.1", stack.config.http_port))
    client.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: jan\r\ncontent-type: application/json\r\n"
        + f"authorization: Bearer {token}\r\ncontent-length: {len(body)}\r\n\r\n".encode()
        + body
    )
    return client


def _read_to_the_end(client: socket.socket) -> bytes:
    client.settimeout(60)
    received = bytearray()
    while not received.endswith(b"\r\n0\r\n\r\n"):  # the chunked body's end
        data = client.recv(1 << 20)
        assert data, "the stream was cut"
        received += data
    client.close()
    return bytes(received)


def test_a_client_that_stops_reading_does_not_grow_server_memory(faulty: Stack) -> None:
    token = guest(faulty)
    body = json.dumps(ask(max_tokens=STREAM_TOKENS, stream=True)).encode()
    streams = 10  # ~7 MB of SSE each: ~70 MB held somewhere if nothing pushed back
    services = ("envoy", "chat", "inference")
    before = rss_mb(faulty, *services)
    clients = [_open_stream(faulty, token, body) for _ in range(streams)]
    peak = before
    for _ in range(16):  # 8 s without reading a byte
        time.sleep(0.5)
        peak = max(peak, rss_mb(faulty, *services))
    assert peak - before < 30, f"memory grew {peak - before:.0f} MB for {streams} stalled streams"
    for client in clients:  # reading again, each gets its whole answer
        received = _read_to_the_end(client)
        assert received.startswith(b"HTTP/1.1 200")
        assert received.count(b"tok ") == STREAM_TOKENS and b"data: [DONE]" in received


# -- SIGTERM under load ----------------------------------------------------------------------------------------


async def client_get(stack: Stack, path: str, token: str, **params: object) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.http_url, timeout=30) as client:
        return await client.get(path, params=params, headers=bearer(token))


async def test_sigterm_under_load_drains_the_streams_in_flight(faulty: Stack) -> None:
    token = await asyncio.to_thread(guest, faulty)
    await asyncio.to_thread(restart, faulty, "inference", JAN_INSTANT_TOKEN_SECONDS="0.01")  # 300 tokens: 3 s
    try:
        chat = faulty.processes["chat"]
        first_chunks = asyncio.Queue[None]()

        async def stream(client: httpx.AsyncClient) -> list[dict | str]:
            body = ask(max_tokens=300, stream=True, store=True)
            async with client.stream("POST", "/v1/chat/completions", json=body, headers=bearer(token)) as response:
                assert response.status_code == 200
                events: list[dict | str] = []
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        if not events:
                            first_chunks.put_nowait(None)
                        data = line[len("data: ") :]
                        events.append(data if data == "[DONE]" else json.loads(data))
                return events

        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(base_url=faulty.http_url, timeout=60, limits=limits) as client:
            tasks = [asyncio.create_task(stream(client)) for _ in range(30)]
            for _ in tasks:
                await asyncio.wait_for(first_chunks.get(), 30)
            chat.send_signal(signal.SIGTERM)
            results = await asyncio.gather(*tasks)
        for events in results:
            assert events[-1] == "[DONE]", events[-2:]
            finishes = [c["choices"][0]["finish_reason"] for c in events[:-1] if isinstance(c, dict) and c["choices"]]
            assert finishes[-1] == "length"
            assert sum(1 for c in events[:-1] if isinstance(c, dict) and c["choices"]) >= 300
        assert await asyncio.to_thread(chat.wait, 20) == 0
        # Every turn was stored whole before chat exited.
        faulty.start_service("chat")
        faulty.wait_for_service("chat")
        await asyncio.to_thread(answering, faulty)
        listed = await client_get(faulty, "/v1/conversations", token, limit=100)
        assert len(listed.json()["data"]) == 30
    finally:
        await asyncio.to_thread(restart, faulty, "inference", JAN_INSTANT_TOKEN_SECONDS="")
