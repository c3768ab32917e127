"""Conversation inputs and items without a database: OpenAI's input item shapes become stored items, chat
messages and answers become items, and stored items replay as chat messages."""

from __future__ import annotations

import pytest
from google.protobuf import json_format

from jan.v1 import inference_service_pb2 as inference_pb
from jan.v1 import types_pb2
from services.chat import items
from services.chat.conversations import title_from
from services.chat.validation import check_include, check_metadata, check_page
from services.common.errors import InvalidArgument


def test_input_items_get_typed_ids_a_status_and_openais_answer_shape() -> None:
    (msg, text_parts, assistant, call, output, reasoning) = [
        items.check_input_item(item, f"items[{i}]")
        for i, item in enumerate(
            [
                {"type": "message", "role": "user", "content": "hello"},  # a plain string, as the SDK examples send
                {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},  # type defaults to message
                {"type": "message", "role": "assistant", "content": "Hi!"},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "42", "status": "incomplete"},
                {"type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": "hmm"}]},
            ]
        )
    ]
    assert [i.id.split("_")[0] for i in (msg, call, output, reasoning)] == ["msg", "fc", "fco", "rs"]
    assert msg.body == {"role": "user", "content": [{"type": "input_text", "text": "hello"}], "status": "completed"}
    assert text_parts.body["content"] == [{"type": "input_text", "text": "hi"}]
    assert assistant.body["content"] == [{"type": "output_text", "text": "Hi!", "annotations": [], "logprobs": []}]
    assert call.body == {"call_id": "c1", "name": "f", "arguments": "{}", "status": "completed"}
    assert output.body["status"] == "incomplete"
    assert items.render(msg.id, msg.type, msg.body)["type"] == "message"


@pytest.mark.parametrize(
    ("item", "param"),
    [
        ({"type": "message", "role": "user"}, "items[0].content"),
        (
            {"type": "message", "role": "user", "content": [{"type": "input_image", "image_url": "x"}]},
            "items[0].content[0].type",
        ),
        ({"type": "message", "role": "user", "content": 5}, "items[0].content"),
        ({"type": "message", "role": "wizard", "content": "x"}, "items[0].role"),
        ({"type": "function_call_output", "call_id": "c"}, "items[0].output"),
        ({"type": "function_call", "name": "f"}, "items[0].call_id"),
        ({"type": "telepathy"}, "items[0].type"),
        ({"type": "message", "role": "user", "content": "x", "status": "done"}, "items[0].status"),
        ("just a string", "items[0]"),
        # Found by fuzzing (issue 16): values of the wrong JSON type were 500s (unhashable, no .get).
        ({"type": [None, None], "call_id": "0"}, "items[0].type"),
        ({"type": {"a": 1}}, "items[0].type"),
        ({"type": "message", "role": ["user"], "content": "x"}, "items[0].role"),
        ({"type": "message", "role": "user", "content": "x", "status": ["completed"]}, "items[0].status"),
        ({"type": "reasoning", "summary": ["text"]}, "items[0]"),
        ({"type": "reasoning", "summary": [], "content": 7}, "items[0]"),
        (
            {"type": "function_call_output", "call_id": "c", "output": [{"type": "input_text", "text": {}}]},
            "items[0].output",
        ),
    ],
)
def test_bad_items_name_the_field(item: object, param: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        items.check_input_item(item, "items[0]")
    assert raised.value.param == param


def chat_messages(*messages: dict) -> list[types_pb2.ChatMessage]:
    return [json_format.ParseDict(m, types_pb2.ChatMessage()) for m in messages]


def test_chat_turn_round_trips_through_items() -> None:
    turn = chat_messages(
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "need a tool",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    )
    stored = items.from_chat_messages(turn)
    assert [i.type for i in stored] == ["message", "message", "reasoning", "function_call", "function_call_output"]
    answer = json_format.ParseDict({"content": "It is sunny."}, inference_pb.GenerateResponse())
    stored += items.from_answer(answer, complete=True)
    replayed = items.to_chat_messages([(i.type, i.body) for i in stored])
    assert [(m.role, m.content.string_value) for m in replayed] == [
        ("system", "be brief"),
        ("user", "weather?"),
        ("assistant", ""),
        ("tool", "sunny"),
        ("assistant", "It is sunny."),
    ]
    assert replayed[2].reasoning_content == "need a tool" and replayed[2].tool_calls[0].function.name == "w"
    assert replayed[2].content.WhichOneof("kind") == "null_value"


def test_an_answer_cut_short_is_incomplete() -> None:
    answer = json_format.ParseDict(
        {"reasoning_content": "thinking", "content": "Half an ans"}, inference_pb.GenerateResponse()
    )
    stored = items.from_answer(answer, complete=False)
    assert [(i.type, i.body["status"]) for i in stored] == [("reasoning", "incomplete"), ("message", "incomplete")]


def test_title_is_the_start_of_the_first_user_message() -> None:
    turn = [items.check_input_item({"role": "system", "content": "x"}, "i")]
    turn.append(items.check_input_item({"role": "user", "content": "  What is\nthe weather " + "x" * 100}, "i"))
    assert title_from(turn) == ("What is the weather " + "x" * 100)[:80]
    assert title_from([]) == ""


def test_metadata_pages_and_include() -> None:
    assert check_metadata({"a": "b"}) == {"a": "b"}
    with pytest.raises(InvalidArgument):
        check_metadata({"k" * 65: "v"})
    assert check_page(None, "") == (20, True) and check_page(5, "asc") == (5, False)
    for limit, order in ((101, "desc"), (0, "desc"), (5, "sideways")):
        with pytest.raises(InvalidArgument):
            check_page(limit, order)
    check_include(["message.output_text.logprobs"])
    with pytest.raises(InvalidArgument) as raised:
        check_include(["everything"])
    assert raised.value.param == "include"
