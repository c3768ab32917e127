"""Usage metering in this process (ChatApp on port 0, the inference service's instant engine, a fresh
database): every kind of generation is counted from the engine's numbers against the caller's organization,
project, user, key and model; the usage API's buckets, groups, filters and pages; OpenAI's document for its
body; the meter's batches written in one statement per flush, and kept when the database refuses them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import asyncpg
import grpc
import pytest
from google.protobuf import json_format

from jan.v1 import chat_service_pb2 as chat_pb
from jan.v1 import chat_service_pb2_grpc, responses_service_pb2_grpc, types_pb2, usage_service_pb2_grpc
from jan.v1 import responses_service_pb2 as responses_pb
from jan.v1 import usage_service_pb2 as pb
from services.chat.store.usage import UsageStore
from services.chat.usage import UsageMeter
from tests.support.identity import identity_metadata
from tests.support.in_process import IDENTITY_SECRET, INSTANT_MODEL, chat_service, instant_inference
from tests.support.openai_spec import assert_route

TOKENS = 4
ORG = "org_usage"
KEY = {"org_id": ORG, "project_id": "proj_a", "key_type": "project", "key_id": "key_a"}


def project_key() -> tuple[tuple[str, str], ...]:
    return identity_metadata(IDENTITY_SECRET, "user_a", **KEY)


def owner() -> tuple[tuple[str, str], ...]:
    return identity_metadata(IDENTITY_SECRET, "user_owner", org_id=ORG, org_role="owner", key_type="session")


@dataclass
class Stubs:
    chat: chat_service_pb2_grpc.ChatServiceStub
    responses: responses_service_pb2_grpc.ResponsesServiceStub
    usage: usage_service_pb2_grpc.UsageServiceStub
    url: str


@pytest.fixture
async def stubs(database_factory) -> AsyncIterator[Stubs]:
    url = database_factory("usage")
    async with instant_inference(TOKENS) as (_, inference_channel), chat_service(url, inference_channel) as channel:
        yield Stubs(
            chat_service_pb2_grpc.ChatServiceStub(channel),
            responses_service_pb2_grpc.ResponsesServiceStub(channel),
            usage_service_pb2_grpc.UsageServiceStub(channel),
            url,
        )


def chat_params(**fields: object) -> chat_pb.ChatCompletionParams:
    body = {"model": INSTANT_MODEL, "messages": [{"role": "user", "content": "count me"}], **fields}
    return json_format.ParseDict(body, chat_pb.ChatCompletionParams())


async def usage(stubs: Stubs, **fields: object) -> dict:
    request = json_format.ParseDict(fields, pb.GetCompletionsUsageRequest())
    body = json.loads((await stubs.usage.GetCompletionsUsage(request, metadata=owner())).data)
    assert_route("GET", "/v1/organization/usage/completions", body)
    return body


def totals(body: dict) -> dict[str, int]:
    out = {"input_tokens": 0, "input_cached_tokens": 0, "output_tokens": 0, "num_model_requests": 0}
    for bucket in body["data"]:
        for result in bucket["results"]:
            for name in out:
                out[name] += result[name]
    return out


async def settled(stubs: Stubs, done: Callable[[dict[str, int]], bool], **fields: object) -> dict:
    """The usage answer once the meter's flush wrote what `done` waits for (it writes every 0.1 s here)."""
    deadline = time.monotonic() + 10
    while True:
        body = await usage(stubs, **fields)
        if done(totals(body)) or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.05)


async def test_every_kind_of_generation_is_counted_as_its_usage_said(stubs: Stubs) -> None:
    start = int(time.time()) - 60
    unary = await stubs.chat.CreateChatCompletion(
        chat_pb.CreateChatCompletionRequest(params=chat_params(max_tokens=3)), metadata=project_key()
    )
    streamed = stubs.chat.StreamChatCompletion(
        chat_pb.StreamChatCompletionRequest(params=chat_params(stream=True, stream_options={"include_usage": True})),
        metadata=project_key(),
    )
    stream_usage = [c.usage async for c in streamed if c.HasField("usage")][-1]
    response = json.loads(
        (
            await stubs.responses.CreateResponse(
                responses_pb.CreateResponseRequest(
                    params=json_format.ParseDict({"model": INSTANT_MODEL, "input": "hi"}, responses_pb.ResponseParams())
                ),
                metadata=project_key(),
            )
        ).data
    )["usage"]
    said = [
        (unary.usage.prompt_tokens, unary.usage.completion_tokens),
        (stream_usage.prompt_tokens, stream_usage.completion_tokens),
        (response["input_tokens"], response["output_tokens"]),
    ]
    expected = {
        "input_tokens": sum(i for i, _ in said),
        "input_cached_tokens": 0,
        "output_tokens": sum(o for _, o in said),
        "num_model_requests": 3,
    }
    body = await settled(stubs, expected.__eq__, start_time=start, bucket_width="1m", group_by=["model", "api_key_id"])
    assert totals(body) == expected
    (result,) = [r for b in body["data"] for r in b["results"]]
    assert (result["model"], result["api_key_id"], result["project_id"]) == (INSTANT_MODEL, "key_a", None)
    assert result["input_uncached_tokens"] == expected["input_tokens"]
    # The same sums at every width, and none for a filter that matches nothing.
    for width in ("1h", "1d"):
        assert totals(await usage(stubs, start_time=start, bucket_width=width, limit=2)) == expected
    assert (
        totals(await usage(stubs, start_time=start, bucket_width="1m", project_ids=["proj_other"]))[
            "num_model_requests"
        ]
        == 0
    )


async def test_a_stream_cut_short_counts_what_was_made(stubs: Stubs) -> None:
    start = int(time.time()) - 60
    streamed = stubs.chat.StreamChatCompletion(
        chat_pb.StreamChatCompletionRequest(params=chat_params(stream=True)), metadata=project_key()
    )
    seen = 0
    async for chunk in streamed:
        seen += bool(chunk.choices and chunk.choices[0].delta.content)
        if seen == 2:
            streamed.cancel()
            break
    body = await settled(stubs, lambda t: t["num_model_requests"] > 0, start_time=start, bucket_width="1m")
    counted = totals(body)
    assert counted["num_model_requests"] == 1 and counted["input_tokens"] > 0
    assert 2 <= counted["output_tokens"] <= TOKENS


async def test_pages_groups_and_bad_queries(stubs: Stubs) -> None:
    now = int(time.time())
    first = await usage(stubs, start_time=now - 3 * 86400, bucket_width="1d", limit=2)
    assert len(first["data"]) == 2 and first["has_more"] and first["next_page"]
    second = await usage(stubs, start_time=now - 3 * 86400, bucket_width="1d", limit=2, page=first["next_page"])
    assert second["data"][0]["start_time"] == first["data"][-1]["end_time"]
    for fields, param in (
        ({"start_time": now, "bucket_width": "1w"}, "bucket_width"),
        ({"start_time": now, "bucket_width": "1m", "limit": 1441}, "limit"),
        ({"start_time": now, "group_by": ["colour"]}, "group_by"),
        ({"start_time": now, "page": "nope"}, "page"),
        ({"start_time": now, "end_time": now - 10}, "end_time"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await usage(stubs, **fields)
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT, fields
        assert param in bad.value.details()


async def test_the_meter_writes_batches_and_keeps_them_while_the_database_refuses(database_factory) -> None:
    from services.chat.server import MIGRATIONS
    from services.common.db import apply_migrations

    pool = await asyncpg.create_pool(database_factory("meter"), min_size=1, max_size=2)
    try:
        await apply_migrations(pool, "chat", MIGRATIONS)
        meter = UsageMeter(UsageStore(pool), flush_seconds=3600)
        who = types_pb2.Attribution(org_id=ORG, user_id="u", project_id="p", api_key_id="k")
        for _ in range(1000):
            meter.record(who, "m", types_pb2.Usage(prompt_tokens=3, completion_tokens=2))
        await pool.execute("ALTER TABLE chat.usage_1d RENAME TO usage_1d_away")  # the write fails
        await meter.flush()
        assert await pool.fetchval("SELECT count(*) FROM chat.usage_1m") == 0
        await pool.execute("ALTER TABLE chat.usage_1d_away RENAME TO usage_1d")
        meter.record(who, "m", types_pb2.Usage(prompt_tokens=3, completion_tokens=2))
        await meter.stop()  # the last flush: everything, once
        for table in ("usage_1m", "usage_1h", "usage_1d"):
            row = await pool.fetchrow(f"SELECT sum(input_tokens) AS i, sum(requests) AS r FROM chat.{table}")
            assert (row["i"], row["r"]) == (3003, 1001), table
    finally:
        await pool.close()


async def test_only_an_organization_sees_its_usage(stubs: Stubs) -> None:
    request = pb.GetCompletionsUsageRequest(start_time=0)
    with pytest.raises(grpc.aio.AioRpcError) as nobody:
        await stubs.usage.GetCompletionsUsage(request)
    assert nobody.value.code() == grpc.StatusCode.UNAUTHENTICATED
    other = identity_metadata(IDENTITY_SECRET, "user_b", org_id="org_other", org_role="owner", key_type="session")
    body = json.loads((await stubs.usage.GetCompletionsUsage(request, metadata=other)).data)
    assert all(not b["results"] for b in body["data"])
