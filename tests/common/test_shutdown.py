"""SIGTERM drains: a call in flight finishes, new calls are refused, the process exits cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import grpc
import pytest

from devstack.ports import free_port
from jan.v1 import search_service_pb2, search_service_pb2_grpc
from tests.conftest import ROOT


@pytest.fixture
def slow_server():
    port = free_port()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'gen' / 'python'}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.slow_server", str(port), "1.5", "10"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout.readline().strip() == b"ready"
    yield process, f"127.0.0.1:{port}"
    if process.poll() is None:
        process.kill()
        process.wait()


async def test_sigterm_drains_in_flight_call(slow_server) -> None:
    process, target = slow_server
    async with grpc.aio.insecure_channel(target) as channel:
        stub = search_service_pb2_grpc.SearchServiceStub(channel)
        in_flight = asyncio.ensure_future(stub.Search(search_service_pb2.SearchRequest(q="a"), timeout=10))
        await asyncio.sleep(0.5)  # the call is now inside the servicer
        process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Search(search_service_pb2.SearchRequest(q="b"), timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        response = await in_flight
        assert list(response.related_searches) == ["done:a"]
    started = time.monotonic()
    assert await asyncio.to_thread(process.wait, 10) == 0
    assert time.monotonic() - started < 10
