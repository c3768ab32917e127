from __future__ import annotations

from services.inference.domain import GenerationDelta, ToolCallDelta, Usage, join_deltas


def test_join_merges_text_and_tool_call_fragments() -> None:
    deltas = [
        GenerationDelta(reasoning_content="think"),
        GenerationDelta(content="Hi "),
        GenerationDelta(tool_calls=[ToolCallDelta(index=0, id="c1", name="f", arguments='{"a"')]),
        GenerationDelta(tool_calls=[ToolCallDelta(index=0, arguments=": 1}")]),
        GenerationDelta(content="there", finish_reason="tool_calls", usage=Usage(3, 4)),
    ]
    whole = join_deltas(deltas)
    assert whole.content == "Hi there"
    assert whole.reasoning_content == "think"
    assert whole.tool_calls == [ToolCallDelta(index=0, id="c1", name="f", arguments='{"a": 1}')]
    assert whole.finish_reason == "tool_calls"
    assert whole.usage == Usage(3, 4)
    assert whole.usage.total_tokens == 7
