"""The lexer of vLLM's streaming parsers is built once per tokenizer and spelling, not per request."""

from __future__ import annotations

from typing import Any

from vllm.parser.engine import streaming_parser_engine
from vllm.parser.qwen3 import qwen3_config

from services.inference.parser_cache import cache_parser_lexers, cached


def test_equal_spellings_share_one_build_and_others_do_not(hf_tokenizer: Any) -> None:
    calls: list[Any] = []

    def build(config: Any, tokenizer: Any) -> object:
        calls.append(config)
        return object()

    build_once = cached(build)
    thinking, not_thinking = qwen3_config(thinking=True), qwen3_config(thinking=False)
    first = build_once(thinking, hf_tokenizer)
    # Another request's config: a new, equal object; thinking changes the transitions, not the spellings.
    assert build_once(qwen3_config(thinking=True), hf_tokenizer) is first
    assert build_once(not_thinking, hf_tokenizer) is first
    other = build_once(qwen3_config(tool_start="<function>", tool_end="</function>"), hf_tokenizer)
    assert other is not first and len(calls) == 2
    assert build_once(object(), hf_tokenizer) is not first  # not a config it understands: vLLM's own path
    assert len(calls) == 3


def test_the_cached_lexer_is_what_vllm_builds(hf_tokenizer: Any) -> None:
    cache_parser_lexers()
    cache_parser_lexers()  # installing twice wraps once
    build_once = streaming_parser_engine._build_drop_info
    original = build_once.__wrapped__
    assert not hasattr(original, "__wrapped__")
    config = qwen3_config()
    mine, theirs = build_once(config, hf_tokenizer), original(config, hf_tokenizer)
    assert build_once(qwen3_config(), hf_tokenizer) is mine
    assert mine.extra_token_ids == theirs.extra_token_ids
    assert [t.name for t in mine.lexer_shape.terminals] == [t.name for t in theirs.lexer_shape.terminals]
    assert mine.lexer_shape.literal_strings == theirs.lexer_shape.literal_strings
