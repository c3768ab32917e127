"""Conversation items: OpenAI's item shapes (the same as a Response's output items), and the translations
between them and chat messages.

Items are kept as the JSON OpenAI's document defines for `ConversationItem`, exactly as they are answered,
so reading one back is a copy. Three translations live here:
  - an input item (`InputItem`: a message with string or parts content, a function call, its output, a
    reasoning item) → the stored item, checked, with its id and status;
  - chat completion messages → the items a stored completion's input becomes;
  - a finished answer (content, reasoning, tool calls) → the items its output becomes;
  - stored items → chat messages, to replay a conversation's history to the model.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from google.protobuf import json_format, struct_pb2

from jan.v1 import inference_service_pb2 as inference_pb
from jan.v1 import types_pb2
from services.chat.domain import NewItem, new_id
from services.common.errors import InvalidArgument

ITEM_ID_PREFIX = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "reasoning": "rs",
    "web_search_call": "ws",
}
MESSAGE_ROLES = ("user", "assistant", "system", "developer")
STATUSES = ("completed", "incomplete", "in_progress")
_INPUT_TEXT_TYPES = ("input_text", "text")  # "text" is what chat completions' content parts say
_OUTPUT_TEXT_TYPES = ("output_text",)


def _fail(message: str, param: str) -> InvalidArgument:
    return InvalidArgument(message, param=param)


def _text(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise _fail(f"{param} must be a string", param)
    return value


def item_bytes(item: NewItem) -> int:
    """The size of an item's JSON as it is answered (compact, UTF-8)."""
    rendered = render(item.id, item.type, item.body)
    return len(json.dumps(rendered, ensure_ascii=False, separators=(",", ":")).encode())


def check_size(item: NewItem, max_bytes: int, param: str) -> NewItem:
    """Refuses an item whose JSON is over `max_bytes` (JAN_MAX_ITEM_BYTES), naming it; bigger inputs are refused,
    never truncated."""
    size = item_bytes(item)
    if size > max_bytes:
        message = f"{param} is {size} bytes of JSON; an item may be at most {max_bytes} bytes"
        raise InvalidArgument(message, param=param, over_limit="item_bytes")
    return item


def output_text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _content_parts(content: Any, role: str, param: str) -> list[dict[str, Any]]:
    """A message's content (a string or a list of parts) as stored parts: input_text for what people and
    instructions say, output_text for what the assistant said, refusal kept."""
    if isinstance(content, str):
        text = _text(content, param)
        return [output_text_part(text) if role == "assistant" else {"type": "input_text", "text": text}]
    if not isinstance(content, list) or not content:
        raise _fail(f"{param} must be a string or a non-empty list of content parts", param)
    parts = []
    for j, part in enumerate(content):
        where = f"{param}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in _INPUT_TEXT_TYPES or (kind in _OUTPUT_TEXT_TYPES and role == "assistant"):
            text = _text(part.get("text"), f"{where}.text")
            parts.append(output_text_part(text) if role == "assistant" else {"type": "input_text", "text": text})
        elif kind == "refusal" and role == "assistant":
            parts.append({"type": "refusal", "refusal": _text(part.get("refusal"), f"{where}.refusal")})
        else:
            allowed = "output_text or refusal" if role == "assistant" else "input_text"
            raise _fail(f"{where}.type must be {allowed} (text only), got {kind!r}", f"{where}.type")
    return parts


def _status(item: dict[str, Any], param: str) -> str:
    status = item.get("status") or "completed"
    if status not in (*STATUSES, "failed") or (status == "failed" and item.get("type") != "web_search_call"):
        raise _fail(f"{param}.status must be one of {', '.join(STATUSES)}", f"{param}.status")
    return status


def check_input_item(item: Any, param: str) -> NewItem:
    """An OpenAI input item as the item it is stored as (its id new, its status completed unless given)."""
    if not isinstance(item, dict):
        raise _fail(f"{param} must be an object", param)
    kind = item.get("type") or "message"
    if not isinstance(kind, str) or kind not in ITEM_ID_PREFIX:
        raise _fail(f"{param}.type must be one of {', '.join(ITEM_ID_PREFIX)}, got {kind!r}", f"{param}.type")
    body: dict[str, Any]
    if kind == "message":
        role = item.get("role")
        if role not in MESSAGE_ROLES:
            raise _fail(f"{param}.role must be one of {', '.join(MESSAGE_ROLES)}", f"{param}.role")
        if "content" not in item:
            raise _fail(f"{param}.content is required", f"{param}.content")
        body = {"role": role, "content": _content_parts(item["content"], role, f"{param}.content")}
    elif kind == "function_call":
        body = {
            "call_id": _required_text(item, "call_id", param),
            "name": _required_text(item, "name", param),
            "arguments": _text(item.get("arguments", ""), f"{param}.arguments"),
        }
    elif kind == "function_call_output":
        output = item.get("output")
        if isinstance(output, list):  # OpenAI allows content parts; we keep their text
            texts = [p.get("text", "") for p in output if isinstance(p, dict)]
            if not all(isinstance(t, str) for t in texts):
                raise _fail(f"{param}.output's parts must have text strings", f"{param}.output")
            output = "".join(texts)
        body = {"call_id": _required_text(item, "call_id", param), "output": _text(output, f"{param}.output")}
    elif kind == "web_search_call":
        action = item.get("action")
        if not isinstance(action, dict) or action.get("type") not in ("search", "open_page", "find_in_page"):
            raise _fail(f"{param}.action must be a search, open_page or find_in_page action", f"{param}.action")
        body = {"action": action}
    else:  # reasoning
        summary = item.get("summary") or []
        content = item.get("content") or []
        lists = isinstance(summary, list) and isinstance(content, list)
        if not lists or not all(isinstance(p, dict) for p in (*summary, *content)):
            raise _fail(f"{param}.summary and {param}.content must be lists of parts", param)
        body = {
            "summary": [{"type": "summary_text", "text": _text(p.get("text"), f"{param}.summary")} for p in summary],
            "content": [{"type": "reasoning_text", "text": _text(p.get("text"), f"{param}.content")} for p in content],
        }
    body["status"] = _status(item, param)
    return NewItem(new_id(ITEM_ID_PREFIX[kind]), kind, body)


def _required_text(item: dict[str, Any], name: str, param: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value:
        raise _fail(f"{param}.{name} is required", f"{param}.{name}")
    return _text(value, f"{param}.{name}")


def render(item_id: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """A stored item as OpenAI answers it: type and id first, then its own fields."""
    return {"type": kind, "id": item_id, **body}


# -- chat completions → items ---------------------------------------------------------------------------


def _message_text(content: struct_pb2.Value) -> str:
    """A chat message's content (a string, text parts or null) as its text."""
    kind = content.WhichOneof("kind")
    if kind == "string_value":
        return content.string_value
    if kind == "list_value":
        parts = json_format.MessageToDict(content)
        return "".join(p.get("text", "") for p in parts if isinstance(p, dict))
    return ""


def from_chat_messages(messages: Iterable[types_pb2.ChatMessage]) -> list[NewItem]:
    """A chat completion's input messages as items: messages as message items, an assistant's tool calls as
    function_call items, tool results as function_call_output items."""
    items: list[NewItem] = []
    for i, message in enumerate(messages):
        param = f"messages[{i}]"
        text = _message_text(message.content)
        if message.role == "tool":
            body = {"call_id": message.tool_call_id, "output": _text(text, f"{param}.content"), "status": "completed"}
            items.append(NewItem(new_id("fco"), "function_call_output", body))
            continue
        role = message.role if message.role in MESSAGE_ROLES else "user"
        reasoning = message.reasoning_content or message.reasoning
        if reasoning and role == "assistant":
            items.append(reasoning_item(reasoning, "completed"))
        if text or not message.tool_calls:
            part = output_text_part(text) if role == "assistant" else {"type": "input_text", "text": text}
            items.append(NewItem(new_id("msg"), "message", {"role": role, "content": [part], "status": "completed"}))
        for call in message.tool_calls:
            items.append(function_call_item(call.id, call.function.name, call.function.arguments, "completed"))
    return items


def reasoning_item(text: str, status: str) -> NewItem:
    return NewItem(
        new_id("rs"),
        "reasoning",
        {"summary": [], "content": [{"type": "reasoning_text", "text": text}], "status": status},
    )


def function_call_item(call_id: str, name: str, arguments: str, status: str) -> NewItem:
    return NewItem(
        new_id("fc"), "function_call", {"call_id": call_id, "name": name, "arguments": arguments, "status": status}
    )


def web_search_call_item(query: str, urls: list[str], failed: bool) -> NewItem:
    """A search made for an answer, as OpenAI's web_search_call item."""
    action = {
        "type": "search",
        "query": query,
        "queries": [query],
        "sources": [{"type": "url", "url": u} for u in urls],
    }
    return NewItem(new_id("ws"), "web_search_call", {"action": action, "status": "failed" if failed else "completed"})


def from_answer(answer: inference_pb.GenerateResponse, *, complete: bool) -> list[NewItem]:
    """What the model answered, as items: its reasoning, its message, its tool calls. An answer cut short
    (the stream failed or the client left) is stored as far as it got, with status incomplete."""
    status = "completed" if complete else "incomplete"
    items = []
    if answer.reasoning_content:
        items.append(reasoning_item(answer.reasoning_content, status))
    if answer.content or not answer.tool_calls:
        message = {"role": "assistant", "content": [output_text_part(answer.content)], "status": status}
        items.append(NewItem(new_id("msg"), "message", message))
    for call in answer.tool_calls:
        items.append(function_call_item(call.id, call.function.name, call.function.arguments, status))
    return items


# -- items → chat messages (history replay) --------------------------------------------------------------


def to_chat_messages(items: Sequence[tuple[str, dict[str, Any]]]) -> list[types_pb2.ChatMessage]:
    """Stored items (type, body) in order as chat messages: consecutive function calls (and the assistant
    text before them) form one assistant message with tool calls; reasoning goes with the assistant
    message that follows it. Web search calls are not replayed: the answer that used them is."""
    messages: list[types_pb2.ChatMessage] = []
    reasoning = ""
    for kind, body in items:
        if kind == "reasoning":
            reasoning += "".join(p.get("text", "") for p in body.get("content", []))
            continue
        if kind == "message":
            message = types_pb2.ChatMessage(role=body.get("role", "user"))
            text = "".join(p.get("text") or p.get("refusal") or "" for p in body.get("content", []))
            message.content.string_value = text
            if message.role == "assistant" and reasoning:
                message.reasoning_content, reasoning = reasoning, ""
            messages.append(message)
        elif kind == "function_call":
            last = messages[-1] if messages else None
            if last is None or last.role != "assistant":  # calls after tool results start a new assistant turn
                last = types_pb2.ChatMessage(role="assistant")
                last.content.null_value = 0
                messages.append(last)
            if reasoning:
                last.reasoning_content, reasoning = reasoning, ""
            call = last.tool_calls.add(id=body.get("call_id", ""), type="function")
            call.function.name = body.get("name", "")
            call.function.arguments = body.get("arguments", "")
        elif kind == "function_call_output":
            message = types_pb2.ChatMessage(role="tool", tool_call_id=body.get("call_id", ""))
            output = body.get("output", "")
            message.content.string_value = output if isinstance(output, str) else json.dumps(output)
            messages.append(message)
    return messages
