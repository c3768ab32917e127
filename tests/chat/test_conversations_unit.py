"""Validation of conversation inputs, without a database."""

from __future__ import annotations

import pytest

from services.chat.validation import check_items, check_metadata, check_page
from services.common.errors import InvalidArgument


def test_items_get_typed_ids_and_a_status() -> None:
    (msg, call, output) = check_items(
        [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "42"},
        ]
    )
    assert [i.id.split("_")[0] for i in (msg, call, output)] == ["msg", "fc", "fco"]
    assert msg.body == {"role": "user", "content": [{"type": "input_text", "text": "hi"}], "status": "completed"}


@pytest.mark.parametrize(
    ("items", "param"),
    [
        ([{"type": "message", "role": "user"}], "items[0].content"),
        ([{"type": "message", "role": "user", "content": [{"type": "image", "url": "x"}]}], "items[0].content[0]"),
        ([{"type": "function_call_output", "call_id": "c"}], "items[0].output"),
    ],
)
def test_bad_items_name_the_field(items: list, param: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        check_items(items)
    assert raised.value.param == param


def test_metadata_limits() -> None:
    assert check_metadata({"a": "b"}) == {"a": "b"}
    with pytest.raises(InvalidArgument):
        check_metadata({"k" * 65: "v"})


def test_page_defaults_and_limits() -> None:
    assert check_page(0, "") == (20, True) and check_page(5, "asc") == (5, False)
    for limit, order in ((101, "desc"), (5, "sideways")):
        with pytest.raises(InvalidArgument):
            check_page(limit, order)
