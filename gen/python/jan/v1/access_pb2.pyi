from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Access(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCESS_UNSPECIFIED: _ClassVar[Access]
    ACCESS_PUBLIC: _ClassVar[Access]
    ACCESS_ANY: _ClassVar[Access]
    ACCESS_API: _ClassVar[Access]
    ACCESS_SESSION: _ClassVar[Access]
    ACCESS_PROJECT_MEMBER: _ClassVar[Access]
    ACCESS_PROJECT_OWNER: _ClassVar[Access]
    ACCESS_ORG_OWNER: _ClassVar[Access]
    ACCESS_INTERNAL: _ClassVar[Access]
ACCESS_UNSPECIFIED: Access
ACCESS_PUBLIC: Access
ACCESS_ANY: Access
ACCESS_API: Access
ACCESS_SESSION: Access
ACCESS_PROJECT_MEMBER: Access
ACCESS_PROJECT_OWNER: Access
ACCESS_ORG_OWNER: Access
ACCESS_INTERNAL: Access
ACCESS_FIELD_NUMBER: _ClassVar[int]
access: _descriptor.FieldDescriptor
HTTP_ROUTES_FIELD_NUMBER: _ClassVar[int]
http_routes: _descriptor.FieldDescriptor

class PlainHttpRoute(_message.Message):
    __slots__ = ("path", "access", "methods", "description")
    PATH_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    METHODS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    path: str
    access: Access
    methods: _containers.RepeatedScalarFieldContainer[str]
    description: str
    def __init__(self, path: _Optional[str] = ..., access: _Optional[_Union[Access, str]] = ..., methods: _Optional[_Iterable[str]] = ..., description: _Optional[str] = ...) -> None: ...
