"""Protobuf messages as OpenAI's JSON, for the routes whose bodies the chat service writes itself
(google.api.HttpBody: chat completions, whole and streamed).

One renderer for every such body: the native gRPC answer and the REST body are the same message, and this
prints it. The rules are the transcoder's (`preserve_proto_field_names`, scalars without presence always
printed) plus the field option `jan.v1.json_presence` (json_options.proto), which puts OpenAI's
required-but-nullable fields in as null and leaves empty lists out where OpenAI does. Integers print as
JSON numbers (OpenAI's shapes), not as the strings proto3's JSON mapping uses for 64-bit ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from jan.v1 import json_options_pb2

_WELL_KNOWN_JSON = frozenset(
    {"google.protobuf.Value", "google.protobuf.Struct", "google.protobuf.ListValue"}
)  # JSON values in proto form: printed as the JSON they hold
_NULL = json_options_pb2.JSON_PRESENCE_NULL_WHEN_UNSET
_OMIT_EMPTY = json_options_pb2.JSON_PRESENCE_OMIT_WHEN_EMPTY
_NATIVE_ONLY = json_options_pb2.JSON_PRESENCE_NATIVE_ONLY


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    repeated: bool
    is_map: bool
    message: bool
    presence: bool  # proto-level presence: printed only when set
    null_when_unset: bool
    omit_when_empty: bool
    native_only: bool
    convert: Callable[[Any], Any]


_PLANS: dict[str, tuple[_Field, ...]] = {}


def to_json_dict(message: Message) -> dict[str, Any]:
    """The message as OpenAI's JSON object (a dict ready for json.dumps)."""
    out: dict[str, Any] = {}
    for field in _plan(message.DESCRIPTOR):
        if field.native_only:
            continue
        if field.repeated:
            values = getattr(message, field.name)
            if not values and (field.omit_when_empty or field.null_when_unset):
                if field.null_when_unset:
                    out[field.name] = None
            elif field.is_map:
                out[field.name] = {k: field.convert(v) for k, v in values.items()}
            else:
                out[field.name] = [field.convert(v) for v in values]
        elif field.presence and not message.HasField(field.name):
            if field.null_when_unset:
                out[field.name] = None
        else:
            out[field.name] = field.convert(getattr(message, field.name))
    return out


def dumps(message: Message, **extra: Any) -> bytes:
    """Compact UTF-8 JSON of the message, with `extra` top-level keys added where the message has none."""
    body = to_json_dict(message)
    for key, value in extra.items():
        body.setdefault(key, value)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _plan(descriptor: Descriptor) -> tuple[_Field, ...]:
    plan = _PLANS.get(descriptor.full_name)
    if plan is None:
        plan = _PLANS[descriptor.full_name] = tuple(_field(f) for f in descriptor.fields)
    return plan


def _field(f: FieldDescriptor) -> _Field:
    presence = f.GetOptions().Extensions[json_options_pb2.json_presence]
    is_map = f.message_type is not None and f.message_type.GetOptions().map_entry
    repeated = f.is_repeated
    value_type = f.message_type.fields_by_name["value"] if is_map else f
    return _Field(
        name=f.name,
        repeated=repeated,
        is_map=is_map,
        message=f.message_type is not None,
        presence=not repeated and f.has_presence,
        null_when_unset=presence == _NULL,
        omit_when_empty=presence == _OMIT_EMPTY,
        native_only=presence == _NATIVE_ONLY,
        convert=_converter(value_type),
    )


def _converter(f: FieldDescriptor) -> Callable[[Any], Any]:
    if f.message_type is None:
        if f.enum_type is not None:
            names = {v.number: v.name for v in f.enum_type.values}
            return lambda number: names.get(number, number)
        return _same
    if f.message_type.full_name in _WELL_KNOWN_JSON:
        return json_format.MessageToDict
    return to_json_dict


def _same(value: Any) -> Any:
    return value
