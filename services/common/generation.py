"""Generation steps (jan.v1.GenerateResponse, what the inference service streams) folded into whole
answers: the one rule for joining streamed pieces, used wherever a stream must become a message."""

from __future__ import annotations

from collections.abc import Iterable

from jan.v1 import inference_service_pb2 as pb
from jan.v1 import types_pb2

FINISH_REASON_NAMES = {
    pb.FINISH_REASON_STOP: "stop",
    pb.FINISH_REASON_LENGTH: "length",
    pb.FINISH_REASON_TOOL_CALLS: "tool_calls",
}
FINISH_REASONS = {name: number for number, name in FINISH_REASON_NAMES.items()}


def add_tool_call_piece(calls: list[types_pb2.ToolCallDelta], piece: types_pb2.ToolCallDelta) -> None:
    """Merges a streamed tool-call piece into the calls so far, by index: the id and type arrive once (the
    first kept), the name and the arguments arrive in pieces (joined), as OpenAI's SDKs join them."""
    for call in calls:
        if call.index == piece.index:
            if piece.HasField("id") and not call.HasField("id"):
                call.id = piece.id
            if piece.HasField("type") and not call.HasField("type"):
                call.type = piece.type
            if piece.function.HasField("name"):
                call.function.name = call.function.name + piece.function.name
            call.function.arguments = call.function.arguments + piece.function.arguments
            return
    joined = types_pb2.ToolCallDelta()
    joined.CopyFrom(piece)
    joined.function.arguments = piece.function.arguments  # present even when no piece carried any
    calls.append(joined)


def join_steps(steps: Iterable[pb.GenerateResponse]) -> pb.GenerateResponse:
    """One answer's steps as one whole step: texts and log probabilities concatenated, tool-call pieces
    merged by index, the last finish reason and usage."""
    whole = pb.GenerateResponse()
    contents: list[str] = []
    reasoning: list[str] = []
    calls: list[types_pb2.ToolCallDelta] = []
    for step in steps:
        whole.index = step.index
        contents.append(step.content)
        reasoning.append(step.reasoning_content)
        whole.logprobs.extend(step.logprobs)
        for piece in step.tool_calls:
            add_tool_call_piece(calls, piece)
        if step.finish_reason:
            whole.finish_reason = step.finish_reason
        if step.HasField("usage"):
            whole.usage.CopyFrom(step.usage)
    whole.content = "".join(contents)
    whole.reasoning_content = "".join(reasoning)
    whole.tool_calls.extend(sorted(calls, key=lambda c: c.index))
    return whole


def join_answers(steps: Iterable[pb.GenerateResponse], n: int = 1) -> list[pb.GenerateResponse]:
    """The steps of n interleaved answers (told apart by index) as n whole answers, in index order."""
    by_index: list[list[pb.GenerateResponse]] = [[] for _ in range(n)]
    for step in steps:
        while step.index >= len(by_index):
            by_index.append([])
        by_index[step.index].append(step)
    answers = [join_steps(group) for group in by_index]
    for index, answer in enumerate(answers):
        answer.index = index
    return answers


def whole_tool_calls(answer: pb.GenerateResponse) -> list[types_pb2.ToolCall]:
    """An answer's tool calls as complete calls (what a chat.completion message and a stored item hold)."""
    return [
        types_pb2.ToolCall(
            id=call.id,
            type="function",
            function=types_pb2.FunctionCall(name=call.function.name, arguments=call.function.arguments),
        )
        for call in answer.tool_calls
    ]
