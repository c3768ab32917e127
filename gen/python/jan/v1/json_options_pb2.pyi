from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class JsonPresence(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JSON_PRESENCE_UNSPECIFIED: _ClassVar[JsonPresence]
    JSON_PRESENCE_NULL_WHEN_UNSET: _ClassVar[JsonPresence]
    JSON_PRESENCE_OMIT_WHEN_EMPTY: _ClassVar[JsonPresence]
    JSON_PRESENCE_NATIVE_ONLY: _ClassVar[JsonPresence]
JSON_PRESENCE_UNSPECIFIED: JsonPresence
JSON_PRESENCE_NULL_WHEN_UNSET: JsonPresence
JSON_PRESENCE_OMIT_WHEN_EMPTY: JsonPresence
JSON_PRESENCE_NATIVE_ONLY: JsonPresence
JSON_PRESENCE_FIELD_NUMBER: _ClassVar[int]
json_presence: _descriptor.FieldDescriptor
