"""Which replayed history a request may lose to fit the context, oldest turn first."""

from __future__ import annotations

from google.protobuf import json_format

from jan.v1 import inference_service_pb2 as pb
from services.inference import truncation


def request(roles: list[str], truncatable: int) -> pb.GenerateRequest:
    messages = [{"role": r, "content": f"{i}"} for i, r in enumerate(roles)]
    return json_format.ParseDict(
        {"model": "m", "messages": messages, "truncatable_messages": truncatable}, pb.GenerateRequest()
    )


def test_cuts_fall_where_user_turns_begin_and_after_the_whole_history() -> None:
    roles = ["system", "user", "assistant", "tool", "assistant", "user", "assistant", "user"]
    req = request(roles, truncatable=7)  # the last user message is the new turn
    assert truncation.cut_points(req) == [5, 7]
    shorter = truncation.without_history_before(req, 5)
    assert [m.content.string_value for m in shorter.messages] == ["0", "5", "6", "7"]
    assert shorter.truncatable_messages == 3  # the system message and the turn left
    assert [m.role for m in truncation.without_history_before(req, 7).messages] == ["system", "user"]


def test_nothing_to_cut() -> None:
    assert truncation.cut_points(request(["user"], truncatable=0)) == []
    assert truncation.cut_points(request(["system", "developer", "user"], truncatable=2)) == []


def test_answer_room() -> None:
    assert truncation.answer_room(1024, 100) == 100
    assert truncation.answer_room(1024, None) == 256
    assert truncation.answer_room(32768, None) == truncation.ANSWER_ROOM_MAX
