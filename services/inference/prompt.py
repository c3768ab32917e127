"""A request rendered to prompt tokens that fit the model's context: vLLM's renderer (chat template with tools,
tokenization; on the event loop for small requests, see inline_render), and when the prompt does not fit and
holds replayed history, the fewest oldest turns dropped that make it fit (bisection over the cuts,
truncation.py); then the length checks that say, in a user's terms, why a request cannot run."""

from __future__ import annotations

from typing import Any

from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
from vllm.entrypoints.serve.engine.protocol import ErrorResponse
from vllm.exceptions import VLLMValidationError
from vllm.renderers.online_renderer import OnlineRenderer

from jan.v1 import inference_service_pb2 as pb
from services.common.errors import InvalidArgument
from services.inference import truncation
from services.inference.inline_render import inline_rendering, request_chars
from services.inference.vllm_adapter import CONTEXT_LENGTH_EXCEEDED, invalid_argument, to_chat_request


async def render_to_fit(
    req: pb.GenerateRequest,
    chat: ChatCompletionRequest,
    renderer: OnlineRenderer,
    limit: int,
    max_tokens: int | None,
    *,
    stream: bool,
    inline_max_chars: int,
) -> tuple[ChatCompletionRequest, list[int], Any]:
    """Renders the request; when it does not fit and has replayed history, renders it again with the
    oldest turns dropped (the fewest that make it fit, found by bisection over the possible cuts)."""

    cuts = truncation.cut_points(req)
    room = truncation.answer_room(limit, max_tokens)

    async def rendered(candidate: pb.GenerateRequest) -> tuple[ChatCompletionRequest, list[int], Any]:
        """The rendered candidate; a prompt longer than the whole context (which vLLM's renderer refuses
        outright) counts as too long while there are cuts left to try."""
        candidate_chat = chat if candidate is req else to_chat_request(candidate, stream=stream)
        small = request_chars(candidate) <= inline_max_chars
        try:
            engine_input = (await render(renderer, candidate_chat, inline=small))[0]
        except InvalidArgument as e:
            if e.code != CONTEXT_LENGTH_EXCEEDED or not cuts:
                raise
            return candidate_chat, [0] * (limit + 1), None
        return candidate_chat, list(engine_input["prompt_token_ids"]), engine_input

    whole = await rendered(req)
    if len(whole[1]) + room <= limit or not cuts:
        return whole
    best = None
    low, high = 0, len(cuts) - 1
    while low <= high:
        middle = (low + high) // 2
        attempt = await rendered(truncation.without_history_before(req, cuts[middle]))
        if len(attempt[1]) + room <= limit:
            best, high = attempt, middle - 1
        else:
            low = middle + 1
    if best is not None:
        return best
    # Even without any history it does not fit: rendered once more so that the length checks say why.
    last_cut, cuts = cuts[-1], []
    return await rendered(truncation.without_history_before(req, last_cut))


async def render(renderer: OnlineRenderer, chat: ChatCompletionRequest, *, inline: bool) -> list[Any]:
    """Chat template (with tools) + tokenization; also applies the tool parser's request adjustments.
    `inline`: on the event loop rather than in vLLM's renderer pool (see inline_render)."""
    try:
        with inline_rendering(inline):
            rendered = await renderer.render_chat(chat)
    except VLLMValidationError as e:
        raise invalid_argument(e, "messages") from None
    except Exception as e:
        # ValueError/TypeError from vLLM's message parsing, jinja2 errors raised by the template itself
        # (e.g. "roles must alternate"): all mean the messages cannot be rendered for this model.
        if isinstance(e, (ValueError, TypeError)) or type(e).__module__.startswith("jinja2"):
            raise InvalidArgument(f"messages could not be rendered: {e}", param="messages") from None
        raise
    if isinstance(rendered, ErrorResponse):
        raise InvalidArgument(rendered.error.message, param=rendered.error.param)
    return rendered[1]


def check_lengths(prompt_tokens: int, max_tokens: int | None, limit: int) -> None:
    """Refuses a prompt that leaves no room for an answer, or a max_tokens that does not fit."""
    if prompt_tokens >= limit:
        raise InvalidArgument(
            f"This model's maximum context length is {limit} tokens, and the messages take {prompt_tokens} "
            "tokens after the chat template, leaving no room for an answer. Shorten the messages.",
            param="messages",
            code="context_length_exceeded",
        )
    if max_tokens is not None and prompt_tokens + max_tokens > limit:
        raise InvalidArgument(
            f"max_tokens={max_tokens} does not fit: this model's maximum context length is {limit} tokens and "
            f"the messages take {prompt_tokens}, so at most {limit - prompt_tokens} tokens can be generated.",
            param="max_tokens",
            code="context_length_exceeded",
        )
