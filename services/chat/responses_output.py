"""A Response object and its event stream, built from the generation's steps as they come (one rendering:
the events are what the REST stream sends and the native stream types; the object is what `retrieve`
answers, and what OpenAI's SDK builds from the events).

Output items appear in the order the model produces them: `reasoning` (reasoning_text content), `message`
(one output_text part, with url_citation annotations from web search), `function_call`s, and the
`web_search_call`s the server ran. Each item is announced (output_item.added, in_progress), filled by deltas,
and closed (…done, output_item.done) when the next item starts or the response ends; every event carries
`sequence_number`, and `output_index`, `item_id`, `content_index` as OpenAI's document defines them.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

from jan.v1 import inference_service_pb2 as inference_pb
from jan.v1 import types_pb2
from services.chat.domain import Citation, new_id
from services.chat.web_search import SearchCall
from services.common.errors import InvalidArgument, JanError, ResourceExhausted

Event = dict[str, Any]
TERMINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")


def failure_code(error: JanError) -> str:
    """The ResponseErrorCode (a closed list in OpenAI's document) for an error that ended a response."""
    if isinstance(error, InvalidArgument):
        return "invalid_prompt"
    if isinstance(error, ResourceExhausted):
        return "rate_limit_exceeded"
    return "server_error"


def usage_json(usage: types_pb2.Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.prompt_tokens_details.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.completion_tokens_details.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def _citations_of(response: dict[str, Any]) -> list[Citation]:
    return [
        Citation(a["start_index"], a["end_index"], a["url"], a["title"])
        for item in response.get("output", [])
        if item.get("type") == "message"
        for part in item.get("content", [])
        for a in part.get("annotations", [])
        if a.get("type") == "url_citation"
    ]


def _logprobs(entries: Any) -> list[dict[str, Any]]:
    return [
        {
            "token": e.token,
            "logprob": e.logprob,
            "bytes": list(e.bytes),
            "top_logprobs": [{"token": t.token, "logprob": t.logprob, "bytes": list(t.bytes)} for t in e.top_logprobs],
        }
        for e in entries
    ]


@dataclass
class _Open:
    """An output item being filled."""

    index: int
    item: dict[str, Any]
    text: list[str] = field(default_factory=list)
    logprobs: list[dict[str, Any]] = field(default_factory=list)


class ResponseBuilder:
    def __init__(
        self, response_id: str, echo: dict[str, Any], *, status: str = "in_progress", quiet: bool = False
    ) -> None:
        self._quiet = quiet  # only the Response is wanted: events hold references, not copies
        self.response: dict[str, Any] = {
            "id": response_id,
            "object": "response",
            "created_at": int(time.time()),
            "status": status,
            "completed_at": None,
            "error": None,
            "incomplete_details": None,
            "output": [],  # usage is added when counted (OpenAI's document does not allow it null)
            **echo,
        }
        self._sequence = 0
        self._reasoning: _Open | None = None
        self._message: _Open | None = None
        self._calls: dict[int, _Open] = {}  # by the step's tool-call index
        self._searches: dict[int, _Open] = {}  # by SearchCall identity
        self._blank = ""  # whitespace-only text not yet shown: shown if text follows or nothing else came

    @classmethod
    def resume(cls, response: dict[str, Any], next_sequence: int) -> ResponseBuilder:
        """A builder for a stored (queued) response, numbering events on from `next_sequence`."""
        builder = cls(response["id"], {})
        builder.response = copy.deepcopy(response)
        builder._sequence = next_sequence
        return builder

    @property
    def sequence_number(self) -> int:
        return self._sequence

    def _event(self, kind: str, **fields: Any) -> Event:
        event = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event

    def snapshot(self) -> dict[str, Any]:
        return self.response if self._quiet else copy.deepcopy(self.response)

    def _copy(self, item: dict[str, Any]) -> dict[str, Any]:
        return item if self._quiet else copy.deepcopy(item)

    # -- start ------------------------------------------------------------------------------------------

    def started(self) -> list[Event]:
        if self.response["status"] == "queued":
            return [
                self._event("response.created", response=self.snapshot()),
                self._event("response.queued", response=self.snapshot()),
            ]
        return [
            self._event("response.created", response=self.snapshot()),
            self._event("response.in_progress", response=self.snapshot()),
        ]

    def in_progress(self) -> list[Event]:
        """A queued response that a worker took up."""
        self.response["status"] = "in_progress"
        return [self._event("response.in_progress", response=self.snapshot())]

    def _add_item(self, item: dict[str, Any]) -> tuple[_Open, Event]:
        index = len(self.response["output"])
        self.response["output"].append(item)
        return _Open(index, item), self._event("response.output_item.added", output_index=index, item=self._copy(item))

    # -- generation ---------------------------------------------------------------------------------------

    def step(self, step: inference_pb.GenerateResponse) -> list[Event]:
        """Events for one generation step (only answer 0 of a request is a Response)."""
        events: list[Event] = []
        if step.reasoning_content:
            if self._reasoning is None:
                events += self._close_message() + self._close_calls()
                item = {"id": new_id("rs"), "type": "reasoning", "summary": [], "content": [], "status": "in_progress"}
                self._reasoning, added = self._add_item(item)
                events.append(added)
                events.append(
                    self._part_event(
                        "response.content_part.added", self._reasoning, {"type": "reasoning_text", "text": ""}
                    )
                )
            self._reasoning.text.append(step.reasoning_content)
            events.append(
                self._item_event(
                    "response.reasoning_text.delta", self._reasoning, content_index=0, delta=step.reasoning_content
                )
            )
        content = step.content
        if content and self._message is None and not (self._blank + content).strip():
            self._blank += content  # whitespace between reasoning and a tool call is no message
        elif content:
            events += self._text(self._blank + content, _logprobs(step.logprobs))
            self._blank = ""
        for piece in step.tool_calls:
            call = self._calls.get(piece.index)
            if call is None:
                events += self._close_reasoning() + self._close_message()
                item = {
                    "id": new_id("fc"),
                    "type": "function_call",
                    "status": "in_progress",
                    "call_id": piece.id or new_id("call"),
                    "name": piece.function.name,
                    "arguments": "",
                }
                call, added = self._add_item(item)
                self._calls[piece.index] = call
                events.append(added)
            elif piece.function.name:
                call.item["name"] += piece.function.name
            if piece.function.arguments:
                call.text.append(piece.function.arguments)
                events.append(
                    self._item_event("response.function_call_arguments.delta", call, delta=piece.function.arguments)
                )
        return events

    def _text(self, content: str, logprobs: list[dict[str, Any]]) -> list[Event]:
        events: list[Event] = []
        if self._message is None:
            events += self._close_reasoning() + self._close_calls()
            item = {"id": new_id("msg"), "type": "message", "status": "in_progress", "role": "assistant", "content": []}
            self._message, added = self._add_item(item)
            events.append(added)
            empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            events.append(self._part_event("response.content_part.added", self._message, empty))
        self._message.text.append(content)
        self._message.logprobs += logprobs
        events.append(
            self._item_event(
                "response.output_text.delta", self._message, content_index=0, delta=content, logprobs=logprobs
            )
        )
        return events

    def _item_event(self, kind: str, item: _Open, **fields: Any) -> Event:
        return self._event(kind, item_id=item.item["id"], output_index=item.index, **fields)

    def _part_event(self, kind: str, item: _Open, part: dict[str, Any]) -> Event:
        return self._item_event(kind, item, content_index=0, part=part)

    def _close_reasoning(self) -> list[Event]:
        if self._reasoning is None:
            return []
        item, self._reasoning = self._reasoning, None
        text = "".join(item.text)
        part = {"type": "reasoning_text", "text": text}
        item.item["content"], item.item["status"] = [part], "completed"
        return [
            self._item_event("response.reasoning_text.done", item, content_index=0, text=text),
            self._part_event("response.content_part.done", item, part),
            self._event("response.output_item.done", output_index=item.index, item=self._copy(item.item)),
        ]

    def _close_message(self, citations: list[Citation] | None = None) -> list[Event]:
        if self._message is None:
            return []
        item, self._message = self._message, None
        text = "".join(item.text)
        annotations = [
            {"type": "url_citation", "start_index": c.start, "end_index": c.end, "url": c.url, "title": c.title}
            for c in citations or []
        ]
        part = {"type": "output_text", "text": text, "annotations": annotations, "logprobs": item.logprobs}
        item.item["content"], item.item["status"] = [part], "completed"
        events = [
            self._item_event("response.output_text.done", item, content_index=0, text=text, logprobs=item.logprobs)
        ]
        for i, annotation in enumerate(annotations):
            events.append(
                self._item_event(
                    "response.output_text.annotation.added",
                    item,
                    content_index=0,
                    annotation_index=i,
                    annotation=annotation,
                )
            )
        events.append(self._part_event("response.content_part.done", item, part))
        events.append(self._event("response.output_item.done", output_index=item.index, item=self._copy(item.item)))
        return events

    def _close_calls(self) -> list[Event]:
        events = []
        for call in self._calls.values():
            if call.item["status"] != "in_progress":
                continue
            call.item["arguments"], call.item["status"] = "".join(call.text), "completed"
            events.append(
                self._item_event(
                    "response.function_call_arguments.done",
                    call,
                    name=call.item["name"],
                    arguments=call.item["arguments"],
                )
            )
            events.append(self._event("response.output_item.done", output_index=call.index, item=self._copy(call.item)))
        return events

    # -- web search -------------------------------------------------------------------------------------

    def search_started(self, call: SearchCall) -> list[Event]:
        events = self._close_reasoning() + self._close_message() + self._close_calls()
        item = {
            "id": new_id("ws"),
            "type": "web_search_call",
            "status": "in_progress",
            "action": {"type": "search", "query": call.query},
        }
        opened, added = self._add_item(item)
        self._searches[id(call)] = opened
        return [
            *events,
            added,
            self._item_event("response.web_search_call.in_progress", opened),
            self._item_event("response.web_search_call.searching", opened),
        ]

    def search_done(self, call: SearchCall) -> list[Event]:
        opened = self._searches.pop(id(call))
        opened.item["status"] = "failed" if call.failed else "completed"
        opened.item["action"]["queries"] = [call.query]
        opened.item["action"]["sources"] = [{"type": "url", "url": s.url} for s in call.sources]
        return [
            self._item_event("response.web_search_call.completed", opened),
            self._event("response.output_item.done", output_index=opened.index, item=self._copy(opened.item)),
        ]

    # -- end --------------------------------------------------------------------------------------------

    def open_message_text(self) -> str:
        """The text of the message still being written (its citations are found before it closes)."""
        return "".join(self._message.text) if self._message is not None else ""

    def replayed_end(self, stored: dict[str, Any]) -> list[Event]:
        """Closes a replay of a stored response with its stored end (status, usage, error)."""
        events = self._close_reasoning() + self._close_message(_citations_of(stored)) + self._close_calls()
        self.response = copy.deepcopy(stored)
        kind = {"incomplete": "response.incomplete", "failed": "response.failed"}.get(
            stored["status"], "response.completed"
        )
        return [*events, self._event(kind, response=self.snapshot())]

    def finish(
        self,
        usage: types_pb2.Usage | None,
        *,
        incomplete_reason: str | None = None,
        citations: list[Citation] | None = None,
    ) -> list[Event]:
        """Closes every open item and ends with response.completed (or .incomplete)."""
        events = self._text(self._blank, []) if self._blank and not self.response["output"] else []
        events += self._close_reasoning() + self._close_message(citations) + self._close_calls()
        if usage is not None:
            self.response["usage"] = usage_json(usage)
        if incomplete_reason:
            self.response["status"] = "incomplete"
            self.response["incomplete_details"] = {"reason": incomplete_reason}
            return [*events, self._event("response.incomplete", response=self.snapshot())]
        self.response["status"] = "completed"
        self.response["completed_at"] = int(time.time())
        return [*events, self._event("response.completed", response=self.snapshot())]

    def fail(self, message: str, code: str = "server_error") -> list[Event]:
        """Ends with response.failed (items left open are marked incomplete)."""
        for item in self.response["output"]:
            if item.get("status") == "in_progress":
                item["status"] = "incomplete"
        self._reasoning = self._message = None
        self._calls = {}
        self.response["status"] = "failed"
        self.response["error"] = {"code": code, "message": message}
        return [self._event("response.failed", response=self.snapshot())]

    def cancelled(self) -> list[Event]:
        """A cancelled background response: what it made so far, status cancelled."""
        for item in self.response["output"]:
            if item.get("status") == "in_progress":
                item["status"] = "incomplete"
        self._reasoning = self._message = None
        self._calls = {}
        self.response["status"] = "cancelled"
        return []
