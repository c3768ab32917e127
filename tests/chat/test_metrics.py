"""The chat service's generation metrics (services/chat/metrics.py) as its inference client records them, against
the inference service on its instant engine in this process: time to the first token and decoding speed of
streamed and whole generations; and the background responses' queue gauges, refreshed before a scrape."""

from __future__ import annotations

from google.protobuf import json_format

from jan.v1 import inference_service_pb2 as pb
from jan.v1 import types_pb2
from services.chat.inference_client import InferenceClient
from services.chat.metrics import GenerationMetrics, ResponsesQueueMetrics
from services.common.metrics import ServiceMetrics
from tests.support.in_process import INSTANT_MODEL, instant_inference


def sample(metrics: ServiceMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def request() -> pb.GenerateRequest:
    message = json_format.ParseDict({"role": "user", "content": "Hi"}, types_pb2.ChatMessage())
    return pb.GenerateRequest(model=INSTANT_MODEL, messages=[message])


async def test_generations_are_timed_streamed_and_whole() -> None:
    metrics = ServiceMetrics()
    async with instant_inference(tokens=6) as (_, channel):
        client = InferenceClient(channel, metrics=GenerationMetrics(metrics))
        steps = [step async for step in client.generate(request())]
        await client.generate_whole(request())
    assert sum(s.completion_tokens for s in steps) == 6
    assert sample(metrics, "jan_chat_time_to_first_token_seconds_count", stream="true") == 1
    assert 0 < sample(metrics, "jan_chat_time_to_first_token_seconds_sum", stream="true") < 5
    assert sample(metrics, "jan_chat_output_tokens_per_second_count", stream="true") == 1
    # Whole: the instant engine says its decoding took no time, so the whole call is the first token's.
    assert sample(metrics, "jan_chat_time_to_first_token_seconds_count", stream="false") == 1
    assert sample(metrics, "jan_chat_output_tokens_per_second_count", stream="false") == 0


def test_whole_answers_use_the_engines_decoding_time() -> None:
    metrics = ServiceMetrics()
    generation = GenerationMetrics(metrics)
    answer = pb.GenerateResponse(usage=types_pb2.Usage(completion_tokens=11), decode_seconds=0.5)
    generation.whole(0.8, answer)
    assert sample(metrics, "jan_chat_time_to_first_token_seconds_sum", stream="false") == 0.8 - 0.5
    assert sample(metrics, "jan_chat_output_tokens_per_second_sum", stream="false") == 10 / 0.5
    generation.whole(0.8, pb.GenerateResponse(usage=types_pb2.Usage(completion_tokens=11)))  # no timings kept
    assert sample(metrics, "jan_chat_time_to_first_token_seconds_count", stream="false") == 1


async def test_queue_gauges_are_read_before_a_scrape() -> None:
    metrics = ServiceMetrics()
    depth = [(0, 0.0)]

    async def queue_depth() -> tuple[int, float]:
        return depth[-1]

    ResponsesQueueMetrics(metrics, queue_depth, lambda: 3)
    depth.append((5, 12.5))
    await metrics.refresh()
    assert sample(metrics, "jan_chat_responses_queued") == 5
    assert sample(metrics, "jan_chat_responses_oldest_queued_seconds") == 12.5
    assert sample(metrics, "jan_chat_responses_running") == 3
