"""Build the lexer of vLLM's streaming parsers once, not on every request.

A request needs parsers of its own (they keep streaming state), and the constructor of vLLM's Qwen3 and
Hermes parsers rebuilds the same lexer each time: `_build_drop_info` escapes and compiles a regex for
every special token of the tokenizer, then derives a `LexerShape`. Measured here that is ~1 ms of the
~1.5 ms a request's preparation takes, and the preparations of requests arriving together run one after
another on the event loop (bench/inference_overhead.py: the first token at 8 streams).

The result depends only on the tokenizer and on the parser's terminal spellings, and vLLM treats it as
immutable (`LexerShape` is documented as shared by every lexer of one config), so this keeps one per
(tokenizer, spellings). If vLLM's config ever looks different, it falls back to vLLM's own function; if
the function itself is gone, nothing is installed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import Any


def _spellings(config: Any) -> Hashable:
    """What `_build_drop_info` reads from the config: the terminals' spellings (its terminal_defs derive
    from them), the token-id terminals and the tokens kept in the output."""
    terminals = tuple(
        sorted((name, value if isinstance(value, str) else tuple(value)) for name, value in config.terminals.items())
    )
    return terminals, frozenset(config.token_id_terminals.items()), frozenset(config.preserve_tokens)


def cached(build: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    built: dict[tuple[int, Hashable], tuple[Any, Any]] = {}

    @functools.wraps(build)
    def build_once(config: Any, tokenizer: Any) -> Any:
        try:
            key = (id(tokenizer), _spellings(config))
        except (AttributeError, TypeError):
            return build(config, tokenizer)
        hit = built.get(key)
        if hit is None or hit[0] is not tokenizer:  # the tokenizer is kept, so its id is not reused
            hit = built[key] = (tokenizer, build(config, tokenizer))
        return hit[1]

    return build_once


def cache_parser_lexers() -> None:
    """Installs the cache in vLLM (once per process). A vLLM without this private function is left as it
    is: the cache only saves time."""
    try:
        from vllm.parser.engine import streaming_parser_engine
    except ImportError:
        return
    build = getattr(streaming_parser_engine, "_build_drop_info", None)
    if build is not None and not hasattr(build, "__wrapped__"):
        streaming_parser_engine._build_drop_info = cached(build)
