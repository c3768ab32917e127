"""Replayed history cut to the context by the real engine: the oldest turns go, the system message stays, and
the usage counts what was sent."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.errors import InvalidArgument
from services.inference import truncation
from tests.inference.conftest import MAX_MODEL_LEN, chat

pytestmark = pytest.mark.engine
SYSTEM = {"role": "system", "content": "You are the assistant of a very long conversation."}
NEW_TURN = {"role": "user", "content": "And the last question?"}


def history(turns: int) -> list[dict[str, Any]]:
    messages = []
    for i in range(turns):
        messages.append({"role": "user", "content": f"Question {i}: " + "tell me about the weather " * 6})
        messages.append({"role": "assistant", "content": f"Answer {i}: " + "it is sunny and warm " * 6})
    return messages


async def prompt_tokens(engine: Any, messages: list[dict[str, Any]], truncatable: int = 0) -> int:
    request = chat(messages=messages, truncatable_messages=truncatable, sampling={"max_tokens": 8, "temperature": 0})
    (answer,) = await engine.generate_whole(request)
    return answer.usage.prompt_tokens


async def test_history_that_fits_is_sent_whole(engine: Any) -> None:
    messages = [SYSTEM, *history(2), NEW_TURN]
    assert await prompt_tokens(engine, messages, truncatable=5) == await prompt_tokens(engine, messages)


async def test_the_oldest_turns_go_and_the_system_message_stays(engine: Any) -> None:
    turns = history(30)  # far more than 1,024 tokens
    messages = [SYSTEM, *turns, NEW_TURN]
    with pytest.raises(InvalidArgument):  # marked as not truncatable, it does not fit
        await prompt_tokens(engine, messages)
    sent = await prompt_tokens(engine, messages, truncatable=1 + len(turns))
    room = truncation.answer_room(MAX_MODEL_LEN, 8)
    assert sent + room <= MAX_MODEL_LEN
    # What was sent is exactly the system message, the newest k whole turns and the new one, for some k:
    # the same prompt built by hand counts the same tokens.
    by_hand = {}
    for k in range(1, 30):
        try:
            tokens = await prompt_tokens(engine, [SYSTEM, *turns[-2 * k :], NEW_TURN])
        except InvalidArgument:  # longer than the whole context
            break
        by_hand[k] = tokens
        if tokens + room > MAX_MODEL_LEN:
            break
    fitting = [k for k, tokens in by_hand.items() if tokens + room <= MAX_MODEL_LEN]
    assert sent == by_hand[max(fitting)]  # the fewest turns dropped


async def test_history_alone_cannot_make_room_for_a_huge_new_turn(engine: Any) -> None:
    huge = {"role": "user", "content": "weather " * 2000}
    with pytest.raises(InvalidArgument) as raised:
        await prompt_tokens(engine, [SYSTEM, *history(2), huge], truncatable=5)
    assert raised.value.code == "context_length_exceeded"
