"""Streamed generation steps joined into whole answers (services.common.generation), and answer_count."""

from __future__ import annotations

from jan.v1 import inference_service_pb2 as pb
from jan.v1 import types_pb2
from services.common.generation import FINISH_REASON_NAMES, FINISH_REASONS, join_answers, join_steps
from services.inference.domain import answer_count


def _call(index: int, **kw: object) -> types_pb2.ToolCallDelta:
    function = {k: kw.pop(k) for k in ("name", "arguments") if k in kw}
    return types_pb2.ToolCallDelta(index=index, function=types_pb2.FunctionCallDelta(**function), **kw)


def test_join_merges_text_and_tool_call_fragments() -> None:
    usage = types_pb2.Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7)
    steps = [
        pb.GenerateResponse(reasoning_content="think"),
        pb.GenerateResponse(content="Hi "),
        pb.GenerateResponse(tool_calls=[_call(0, id="c1", type="function", name="f", arguments='{"a"')]),
        pb.GenerateResponse(tool_calls=[_call(0, arguments=": 1}")]),
        pb.GenerateResponse(content="there", finish_reason=pb.FINISH_REASON_TOOL_CALLS, usage=usage),
    ]
    whole = join_steps(steps)
    assert whole.content == "Hi there"
    assert whole.reasoning_content == "think"
    assert list(whole.tool_calls) == [_call(0, id="c1", type="function", name="f", arguments='{"a": 1}')]
    assert FINISH_REASON_NAMES[whole.finish_reason] == "tool_calls"
    assert whole.usage == usage
    assert whole.usage.total_tokens == 7
    assert not any(s.tool_calls[0].function.arguments == '{"a": 1}' for s in steps if s.tool_calls)  # not mutated


def test_join_keeps_parallel_calls_apart_and_in_index_order() -> None:
    steps = [
        pb.GenerateResponse(tool_calls=[_call(1, id="c2", name="g", arguments="{")]),
        pb.GenerateResponse(tool_calls=[_call(0, id="c1", name="f")]),  # no arguments yet
        pb.GenerateResponse(tool_calls=[_call(1, arguments="}")]),
    ]
    whole = join_steps(steps)
    assert [(c.index, c.id, c.function.name, c.function.arguments) for c in whole.tool_calls] == [
        (0, "c1", "f", ""),
        (1, "c2", "g", "{}"),
    ]
    assert whole.tool_calls[0].function.HasField("arguments")  # present even when no piece carried any


def test_an_empty_stream_joins_to_an_empty_answer() -> None:
    whole = join_steps([])
    assert whole == pb.GenerateResponse()
    assert not whole.finish_reason and not whole.HasField("usage")


def test_join_answers_splits_interleaved_answers_by_index() -> None:
    usage = types_pb2.Usage(prompt_tokens=2, completion_tokens=4, total_tokens=6)
    steps = [
        pb.GenerateResponse(index=1, content="b"),
        pb.GenerateResponse(index=0, content="a"),
        pb.GenerateResponse(index=0, content="a", finish_reason=pb.FINISH_REASON_STOP),
        pb.GenerateResponse(index=1, content="b", finish_reason=pb.FINISH_REASON_LENGTH, usage=usage),
    ]
    first, second = join_answers(steps, 2)
    assert (first.index, first.content, FINISH_REASON_NAMES[first.finish_reason]) == (0, "aa", "stop")
    assert (second.index, second.content, FINISH_REASON_NAMES[second.finish_reason]) == (1, "bb", "length")
    assert not first.HasField("usage") and second.usage == usage
    # An answer with no steps still has its place; one beyond n is kept too.
    assert [a.index for a in join_answers([pb.GenerateResponse(index=2, content="c")], 1)] == [0, 1, 2]
    assert [a.content for a in join_answers([], 2)] == ["", ""]


def test_finish_reason_names_round_trip() -> None:
    assert {FINISH_REASONS[name] for name in ("stop", "length", "tool_calls")} == set(FINISH_REASON_NAMES)
    assert all(FINISH_REASONS[name] == number for number, name in FINISH_REASON_NAMES.items())
    assert pb.FINISH_REASON_UNSPECIFIED not in FINISH_REASON_NAMES


def test_answer_count() -> None:
    assert answer_count(pb.SamplingParams()) == 1
    assert answer_count(pb.SamplingParams(n=3)) == 3
    assert answer_count(pb.SamplingParams(n=0)) == 0  # explicitly zero: validation refuses it, not a default of 1
