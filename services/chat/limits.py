"""What one caller may ask of the chat service: output tokens per request, and the size of stored conversations.
Guest accounts (anyone can make one: POST /v1/auth/guest-login) get lower limits, lifted by signing up.

Output: a request's n × max_tokens (every answer's budget) is refused above the limit, naming the field the
caller set (max_tokens, max_completion_tokens, or n); without max_tokens each answer may take the limit's share
(limit / n), or less when the context has less room (the inference service's default_max_tokens). Storage: an
item's JSON above max_item_bytes is refused naming the item, and a conversation takes at most
max_conversation_items items (store.py refuses an append past it in the statement that numbers the items).
No grpc.
"""

from __future__ import annotations

from dataclasses import dataclass

from jan.v1 import inference_service_pb2 as inference_pb
from services.common.errors import InvalidArgument

SIGN_UP = "Sign up (POST /v1/auth/register) to lift this limit."


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits, from settings (settings.py). 0 turns an output limit off; a guest limit of 0 means guests
    get everyone's."""

    max_output_tokens: int = 32_768  # JAN_MAX_OUTPUT_TOKENS_PER_REQUEST: n × max_tokens
    guest_max_output_tokens: int = 2_048  # JAN_GUEST_MAX_OUTPUT_TOKENS
    max_item_bytes: int = 1_048_576  # JAN_MAX_ITEM_BYTES: one stored item's JSON
    max_conversation_items: int = 10_000  # JAN_MAX_CONVERSATION_ITEMS
    guest_max_conversation_items: int = 1_000  # JAN_GUEST_MAX_CONVERSATION_ITEMS

    def output_tokens(self, guest: bool) -> int:
        return self.guest_max_output_tokens if guest and self.guest_max_output_tokens else self.max_output_tokens

    def conversation_items(self, guest: bool) -> int:
        return (
            self.guest_max_conversation_items
            if guest and self.guest_max_conversation_items
            else self.max_conversation_items
        )


def _whose(guest: bool) -> str:
    return " for guest accounts" if guest else ""


def bound_output(generate: inference_pb.GenerateRequest, n: int, limit: int, *, guest: bool, param: str) -> None:
    """Refuses a request whose n × max_tokens is over `limit` (0: no limit), naming `param` (the field that set
    max_tokens); without max_tokens, bounds each answer to the limit's share (limit // n)."""
    if not limit or n < 1:  # n below 1 is the inference service's to refuse
        return
    after = f" {SIGN_UP}" if guest else ""
    if n > limit:
        raise InvalidArgument(
            f"n may be at most {limit}{_whose(guest)} (each answer takes a token).{after}",
            param="n",
            over_limit="output_tokens",
            guest_limit=guest,
        )
    sampling = generate.sampling
    if not sampling.HasField("max_tokens"):
        generate.default_max_tokens = limit // n
        return
    asked = sampling.max_tokens * n
    if asked > limit:
        times = f"{sampling.max_tokens} × {n} = {asked}" if n > 1 else str(asked)
        raise InvalidArgument(
            f"{param} × n may be at most {limit} tokens per request{_whose(guest)}; got {times}.{after}",
            param=param,
            over_limit="output_tokens",
            guest_limit=guest,
        )
