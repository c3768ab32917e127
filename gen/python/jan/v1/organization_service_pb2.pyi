from google.api import annotations_pb2 as _annotations_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from jan.v1 import access_pb2 as _access_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Project(_message.Message):
    __slots__ = ("id", "object", "name", "created_at", "archived_at", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ARCHIVED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    name: str
    created_at: int
    archived_at: int
    status: str
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., name: _Optional[str] = ..., created_at: _Optional[int] = ..., archived_at: _Optional[int] = ..., status: _Optional[str] = ...) -> None: ...

class ListProjectsRequest(_message.Message):
    __slots__ = ("limit", "after", "include_archived")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    limit: int
    after: str
    include_archived: bool
    def __init__(self, limit: _Optional[int] = ..., after: _Optional[str] = ..., include_archived: _Optional[bool] = ...) -> None: ...

class ListProjectsResponse(_message.Message):
    __slots__ = ("object", "data", "first_id", "last_id", "has_more")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    object: str
    data: _containers.RepeatedCompositeFieldContainer[Project]
    first_id: str
    last_id: str
    has_more: bool
    def __init__(self, object: _Optional[str] = ..., data: _Optional[_Iterable[_Union[Project, _Mapping]]] = ..., first_id: _Optional[str] = ..., last_id: _Optional[str] = ..., has_more: _Optional[bool] = ...) -> None: ...

class CreateProjectRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetProjectRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class ModifyProjectRequest(_message.Message):
    __slots__ = ("project_id", "name")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    name: str
    def __init__(self, project_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ArchiveProjectRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class ProjectUser(_message.Message):
    __slots__ = ("id", "object", "name", "email", "role", "added_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    ADDED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    name: str
    email: str
    role: str
    added_at: int
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., name: _Optional[str] = ..., email: _Optional[str] = ..., role: _Optional[str] = ..., added_at: _Optional[int] = ...) -> None: ...

class ListProjectUsersRequest(_message.Message):
    __slots__ = ("project_id", "limit", "after")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    limit: int
    after: str
    def __init__(self, project_id: _Optional[str] = ..., limit: _Optional[int] = ..., after: _Optional[str] = ...) -> None: ...

class ListProjectUsersResponse(_message.Message):
    __slots__ = ("object", "data", "first_id", "last_id", "has_more")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    object: str
    data: _containers.RepeatedCompositeFieldContainer[ProjectUser]
    first_id: str
    last_id: str
    has_more: bool
    def __init__(self, object: _Optional[str] = ..., data: _Optional[_Iterable[_Union[ProjectUser, _Mapping]]] = ..., first_id: _Optional[str] = ..., last_id: _Optional[str] = ..., has_more: _Optional[bool] = ...) -> None: ...

class CreateProjectUserRequest(_message.Message):
    __slots__ = ("project_id", "user_id", "role", "email")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    user_id: str
    role: str
    email: str
    def __init__(self, project_id: _Optional[str] = ..., user_id: _Optional[str] = ..., role: _Optional[str] = ..., email: _Optional[str] = ...) -> None: ...

class GetProjectUserRequest(_message.Message):
    __slots__ = ("project_id", "user_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    user_id: str
    def __init__(self, project_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class ModifyProjectUserRequest(_message.Message):
    __slots__ = ("project_id", "user_id", "role")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    user_id: str
    role: str
    def __init__(self, project_id: _Optional[str] = ..., user_id: _Optional[str] = ..., role: _Optional[str] = ...) -> None: ...

class DeleteProjectUserRequest(_message.Message):
    __slots__ = ("project_id", "user_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    user_id: str
    def __init__(self, project_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class DeleteProjectUserResponse(_message.Message):
    __slots__ = ("object", "id", "deleted")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    object: str
    id: str
    deleted: bool
    def __init__(self, object: _Optional[str] = ..., id: _Optional[str] = ..., deleted: _Optional[bool] = ...) -> None: ...

class ProjectServiceAccount(_message.Message):
    __slots__ = ("id", "object", "name", "role", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    name: str
    role: str
    created_at: int
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[str] = ..., created_at: _Optional[int] = ...) -> None: ...

class ListProjectServiceAccountsRequest(_message.Message):
    __slots__ = ("project_id", "limit", "after")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    limit: int
    after: str
    def __init__(self, project_id: _Optional[str] = ..., limit: _Optional[int] = ..., after: _Optional[str] = ...) -> None: ...

class ListProjectServiceAccountsResponse(_message.Message):
    __slots__ = ("object", "data", "first_id", "last_id", "has_more")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    object: str
    data: _containers.RepeatedCompositeFieldContainer[ProjectServiceAccount]
    first_id: str
    last_id: str
    has_more: bool
    def __init__(self, object: _Optional[str] = ..., data: _Optional[_Iterable[_Union[ProjectServiceAccount, _Mapping]]] = ..., first_id: _Optional[str] = ..., last_id: _Optional[str] = ..., has_more: _Optional[bool] = ...) -> None: ...

class CreateProjectServiceAccountRequest(_message.Message):
    __slots__ = ("project_id", "name", "expires_in_seconds")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    name: str
    expires_in_seconds: int
    def __init__(self, project_id: _Optional[str] = ..., name: _Optional[str] = ..., expires_in_seconds: _Optional[int] = ...) -> None: ...

class CreateProjectServiceAccountResponse(_message.Message):
    __slots__ = ("id", "object", "name", "role", "created_at", "api_key")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    name: str
    role: str
    created_at: int
    api_key: ServiceAccountApiKey
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[str] = ..., created_at: _Optional[int] = ..., api_key: _Optional[_Union[ServiceAccountApiKey, _Mapping]] = ...) -> None: ...

class ServiceAccountApiKey(_message.Message):
    __slots__ = ("id", "object", "name", "value", "created_at", "expires_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    name: str
    value: str
    created_at: int
    expires_at: int
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., name: _Optional[str] = ..., value: _Optional[str] = ..., created_at: _Optional[int] = ..., expires_at: _Optional[int] = ...) -> None: ...

class GetProjectServiceAccountRequest(_message.Message):
    __slots__ = ("project_id", "service_account_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    service_account_id: str
    def __init__(self, project_id: _Optional[str] = ..., service_account_id: _Optional[str] = ...) -> None: ...

class ModifyProjectServiceAccountRequest(_message.Message):
    __slots__ = ("project_id", "service_account_id", "name", "role")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    service_account_id: str
    name: str
    role: str
    def __init__(self, project_id: _Optional[str] = ..., service_account_id: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[str] = ...) -> None: ...

class DeleteProjectServiceAccountRequest(_message.Message):
    __slots__ = ("project_id", "service_account_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    service_account_id: str
    def __init__(self, project_id: _Optional[str] = ..., service_account_id: _Optional[str] = ...) -> None: ...

class DeleteProjectServiceAccountResponse(_message.Message):
    __slots__ = ("object", "id", "deleted")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    object: str
    id: str
    deleted: bool
    def __init__(self, object: _Optional[str] = ..., id: _Optional[str] = ..., deleted: _Optional[bool] = ...) -> None: ...

class ProjectApiKey(_message.Message):
    __slots__ = ("id", "object", "name", "redacted_value", "created_at", "last_used_at", "expires_at", "owner", "owner_project_access", "value")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REDACTED_VALUE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    OWNER_PROJECT_ACCESS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    name: str
    redacted_value: str
    created_at: int
    last_used_at: int
    expires_at: int
    owner: ApiKeyOwner
    owner_project_access: str
    value: str
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., name: _Optional[str] = ..., redacted_value: _Optional[str] = ..., created_at: _Optional[int] = ..., last_used_at: _Optional[int] = ..., expires_at: _Optional[int] = ..., owner: _Optional[_Union[ApiKeyOwner, _Mapping]] = ..., owner_project_access: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class ApiKeyOwner(_message.Message):
    __slots__ = ("type", "user", "service_account")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    type: str
    user: ApiKeyOwnerUser
    service_account: ApiKeyOwnerServiceAccount
    def __init__(self, type: _Optional[str] = ..., user: _Optional[_Union[ApiKeyOwnerUser, _Mapping]] = ..., service_account: _Optional[_Union[ApiKeyOwnerServiceAccount, _Mapping]] = ...) -> None: ...

class ApiKeyOwnerUser(_message.Message):
    __slots__ = ("id", "name", "email", "role", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    email: str
    role: str
    created_at: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., email: _Optional[str] = ..., role: _Optional[str] = ..., created_at: _Optional[int] = ...) -> None: ...

class ApiKeyOwnerServiceAccount(_message.Message):
    __slots__ = ("id", "name", "role", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    role: str
    created_at: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[str] = ..., created_at: _Optional[int] = ...) -> None: ...

class ListProjectApiKeysRequest(_message.Message):
    __slots__ = ("project_id", "limit", "after")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    limit: int
    after: str
    def __init__(self, project_id: _Optional[str] = ..., limit: _Optional[int] = ..., after: _Optional[str] = ...) -> None: ...

class ListProjectApiKeysResponse(_message.Message):
    __slots__ = ("object", "data", "first_id", "last_id", "has_more")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    object: str
    data: _containers.RepeatedCompositeFieldContainer[ProjectApiKey]
    first_id: str
    last_id: str
    has_more: bool
    def __init__(self, object: _Optional[str] = ..., data: _Optional[_Iterable[_Union[ProjectApiKey, _Mapping]]] = ..., first_id: _Optional[str] = ..., last_id: _Optional[str] = ..., has_more: _Optional[bool] = ...) -> None: ...

class CreateProjectApiKeyRequest(_message.Message):
    __slots__ = ("project_id", "name", "expires_in_seconds")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    name: str
    expires_in_seconds: int
    def __init__(self, project_id: _Optional[str] = ..., name: _Optional[str] = ..., expires_in_seconds: _Optional[int] = ...) -> None: ...

class GetProjectApiKeyRequest(_message.Message):
    __slots__ = ("project_id", "api_key_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    api_key_id: str
    def __init__(self, project_id: _Optional[str] = ..., api_key_id: _Optional[str] = ...) -> None: ...

class ModifyProjectApiKeyRequest(_message.Message):
    __slots__ = ("project_id", "api_key_id", "expires_in_seconds")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    api_key_id: str
    expires_in_seconds: int
    def __init__(self, project_id: _Optional[str] = ..., api_key_id: _Optional[str] = ..., expires_in_seconds: _Optional[int] = ...) -> None: ...

class DeleteProjectApiKeyRequest(_message.Message):
    __slots__ = ("project_id", "api_key_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    api_key_id: str
    def __init__(self, project_id: _Optional[str] = ..., api_key_id: _Optional[str] = ...) -> None: ...

class DeleteProjectApiKeyResponse(_message.Message):
    __slots__ = ("object", "id", "deleted")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    object: str
    id: str
    deleted: bool
    def __init__(self, object: _Optional[str] = ..., id: _Optional[str] = ..., deleted: _Optional[bool] = ...) -> None: ...

class AdminApiKey(_message.Message):
    __slots__ = ("id", "object", "name", "redacted_value", "created_at", "last_used_at", "expires_at", "owner", "value")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REDACTED_VALUE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    name: str
    redacted_value: str
    created_at: int
    last_used_at: int
    expires_at: int
    owner: AdminApiKeyOwner
    value: str
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., name: _Optional[str] = ..., redacted_value: _Optional[str] = ..., created_at: _Optional[int] = ..., last_used_at: _Optional[int] = ..., expires_at: _Optional[int] = ..., owner: _Optional[_Union[AdminApiKeyOwner, _Mapping]] = ..., value: _Optional[str] = ...) -> None: ...

class AdminApiKeyOwner(_message.Message):
    __slots__ = ("type", "object", "id", "name", "created_at", "role")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    type: str
    object: str
    id: str
    name: str
    created_at: int
    role: str
    def __init__(self, type: _Optional[str] = ..., object: _Optional[str] = ..., id: _Optional[str] = ..., name: _Optional[str] = ..., created_at: _Optional[int] = ..., role: _Optional[str] = ...) -> None: ...

class ListAdminApiKeysRequest(_message.Message):
    __slots__ = ("limit", "after", "order")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    limit: int
    after: str
    order: str
    def __init__(self, limit: _Optional[int] = ..., after: _Optional[str] = ..., order: _Optional[str] = ...) -> None: ...

class ListAdminApiKeysResponse(_message.Message):
    __slots__ = ("object", "data", "first_id", "last_id", "has_more")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    object: str
    data: _containers.RepeatedCompositeFieldContainer[AdminApiKey]
    first_id: str
    last_id: str
    has_more: bool
    def __init__(self, object: _Optional[str] = ..., data: _Optional[_Iterable[_Union[AdminApiKey, _Mapping]]] = ..., first_id: _Optional[str] = ..., last_id: _Optional[str] = ..., has_more: _Optional[bool] = ...) -> None: ...

class CreateAdminApiKeyRequest(_message.Message):
    __slots__ = ("name", "expires_in_seconds")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    expires_in_seconds: int
    def __init__(self, name: _Optional[str] = ..., expires_in_seconds: _Optional[int] = ...) -> None: ...

class GetAdminApiKeyRequest(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class DeleteAdminApiKeyRequest(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class DeleteAdminApiKeyResponse(_message.Message):
    __slots__ = ("object", "id", "deleted")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    object: str
    id: str
    deleted: bool
    def __init__(self, object: _Optional[str] = ..., id: _Optional[str] = ..., deleted: _Optional[bool] = ...) -> None: ...

class Invite(_message.Message):
    __slots__ = ("id", "object", "email", "role", "status", "created_at", "expires_at", "accepted_at", "projects", "code")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_AT_FIELD_NUMBER: _ClassVar[int]
    PROJECTS_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    email: str
    role: str
    status: str
    created_at: int
    expires_at: int
    accepted_at: int
    projects: _containers.RepeatedCompositeFieldContainer[InviteProject]
    code: str
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., email: _Optional[str] = ..., role: _Optional[str] = ..., status: _Optional[str] = ..., created_at: _Optional[int] = ..., expires_at: _Optional[int] = ..., accepted_at: _Optional[int] = ..., projects: _Optional[_Iterable[_Union[InviteProject, _Mapping]]] = ..., code: _Optional[str] = ...) -> None: ...

class InviteProject(_message.Message):
    __slots__ = ("id", "role")
    ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    id: str
    role: str
    def __init__(self, id: _Optional[str] = ..., role: _Optional[str] = ...) -> None: ...

class ListInvitesRequest(_message.Message):
    __slots__ = ("limit", "after")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    limit: int
    after: str
    def __init__(self, limit: _Optional[int] = ..., after: _Optional[str] = ...) -> None: ...

class ListInvitesResponse(_message.Message):
    __slots__ = ("object", "data", "first_id", "last_id", "has_more")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    object: str
    data: _containers.RepeatedCompositeFieldContainer[Invite]
    first_id: str
    last_id: str
    has_more: bool
    def __init__(self, object: _Optional[str] = ..., data: _Optional[_Iterable[_Union[Invite, _Mapping]]] = ..., first_id: _Optional[str] = ..., last_id: _Optional[str] = ..., has_more: _Optional[bool] = ...) -> None: ...

class CreateInviteRequest(_message.Message):
    __slots__ = ("email", "role", "projects")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PROJECTS_FIELD_NUMBER: _ClassVar[int]
    email: str
    role: str
    projects: _containers.RepeatedCompositeFieldContainer[InviteProject]
    def __init__(self, email: _Optional[str] = ..., role: _Optional[str] = ..., projects: _Optional[_Iterable[_Union[InviteProject, _Mapping]]] = ...) -> None: ...

class GetInviteRequest(_message.Message):
    __slots__ = ("invite_id",)
    INVITE_ID_FIELD_NUMBER: _ClassVar[int]
    invite_id: str
    def __init__(self, invite_id: _Optional[str] = ...) -> None: ...

class DeleteInviteRequest(_message.Message):
    __slots__ = ("invite_id",)
    INVITE_ID_FIELD_NUMBER: _ClassVar[int]
    invite_id: str
    def __init__(self, invite_id: _Optional[str] = ...) -> None: ...

class DeleteInviteResponse(_message.Message):
    __slots__ = ("object", "id", "deleted")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    object: str
    id: str
    deleted: bool
    def __init__(self, object: _Optional[str] = ..., id: _Optional[str] = ..., deleted: _Optional[bool] = ...) -> None: ...

class OrganizationUser(_message.Message):
    __slots__ = ("id", "object", "name", "email", "role", "added_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    ADDED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    name: str
    email: str
    role: str
    added_at: int
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., name: _Optional[str] = ..., email: _Optional[str] = ..., role: _Optional[str] = ..., added_at: _Optional[int] = ...) -> None: ...

class ListUsersRequest(_message.Message):
    __slots__ = ("limit", "after", "emails")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    EMAILS_FIELD_NUMBER: _ClassVar[int]
    limit: int
    after: str
    emails: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, limit: _Optional[int] = ..., after: _Optional[str] = ..., emails: _Optional[_Iterable[str]] = ...) -> None: ...

class ListUsersResponse(_message.Message):
    __slots__ = ("object", "data", "first_id", "last_id", "has_more")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    object: str
    data: _containers.RepeatedCompositeFieldContainer[OrganizationUser]
    first_id: str
    last_id: str
    has_more: bool
    def __init__(self, object: _Optional[str] = ..., data: _Optional[_Iterable[_Union[OrganizationUser, _Mapping]]] = ..., first_id: _Optional[str] = ..., last_id: _Optional[str] = ..., has_more: _Optional[bool] = ...) -> None: ...

class GetUserRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class ModifyUserRequest(_message.Message):
    __slots__ = ("user_id", "role")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    role: str
    def __init__(self, user_id: _Optional[str] = ..., role: _Optional[str] = ...) -> None: ...

class DeleteUserRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class DeleteUserResponse(_message.Message):
    __slots__ = ("object", "id", "deleted")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    object: str
    id: str
    deleted: bool
    def __init__(self, object: _Optional[str] = ..., id: _Optional[str] = ..., deleted: _Optional[bool] = ...) -> None: ...

class AuditLogTimeRange(_message.Message):
    __slots__ = ("gt", "gte", "lt", "lte")
    GT_FIELD_NUMBER: _ClassVar[int]
    GTE_FIELD_NUMBER: _ClassVar[int]
    LT_FIELD_NUMBER: _ClassVar[int]
    LTE_FIELD_NUMBER: _ClassVar[int]
    gt: int
    gte: int
    lt: int
    lte: int
    def __init__(self, gt: _Optional[int] = ..., gte: _Optional[int] = ..., lt: _Optional[int] = ..., lte: _Optional[int] = ...) -> None: ...

class ListAuditLogsRequest(_message.Message):
    __slots__ = ("effective_at", "project_ids", "event_types", "actor_ids", "actor_emails", "resource_ids", "limit", "after", "before", "tenant_only")
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    PROJECT_IDS_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    ACTOR_IDS_FIELD_NUMBER: _ClassVar[int]
    ACTOR_EMAILS_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_IDS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    TENANT_ONLY_FIELD_NUMBER: _ClassVar[int]
    effective_at: AuditLogTimeRange
    project_ids: _containers.RepeatedScalarFieldContainer[str]
    event_types: _containers.RepeatedScalarFieldContainer[str]
    actor_ids: _containers.RepeatedScalarFieldContainer[str]
    actor_emails: _containers.RepeatedScalarFieldContainer[str]
    resource_ids: _containers.RepeatedScalarFieldContainer[str]
    limit: int
    after: str
    before: str
    tenant_only: bool
    def __init__(self, effective_at: _Optional[_Union[AuditLogTimeRange, _Mapping]] = ..., project_ids: _Optional[_Iterable[str]] = ..., event_types: _Optional[_Iterable[str]] = ..., actor_ids: _Optional[_Iterable[str]] = ..., actor_emails: _Optional[_Iterable[str]] = ..., resource_ids: _Optional[_Iterable[str]] = ..., limit: _Optional[int] = ..., after: _Optional[str] = ..., before: _Optional[str] = ..., tenant_only: _Optional[bool] = ...) -> None: ...

class ListAuditLogsJsonRequest(_message.Message):
    __slots__ = ("effective_at", "project_ids", "event_types", "actor_ids", "actor_emails", "resource_ids", "limit", "after", "before", "tenant_only")
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    PROJECT_IDS_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    ACTOR_IDS_FIELD_NUMBER: _ClassVar[int]
    ACTOR_EMAILS_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_IDS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    TENANT_ONLY_FIELD_NUMBER: _ClassVar[int]
    effective_at: AuditLogTimeRange
    project_ids: _containers.RepeatedScalarFieldContainer[str]
    event_types: _containers.RepeatedScalarFieldContainer[str]
    actor_ids: _containers.RepeatedScalarFieldContainer[str]
    actor_emails: _containers.RepeatedScalarFieldContainer[str]
    resource_ids: _containers.RepeatedScalarFieldContainer[str]
    limit: int
    after: str
    before: str
    tenant_only: bool
    def __init__(self, effective_at: _Optional[_Union[AuditLogTimeRange, _Mapping]] = ..., project_ids: _Optional[_Iterable[str]] = ..., event_types: _Optional[_Iterable[str]] = ..., actor_ids: _Optional[_Iterable[str]] = ..., actor_emails: _Optional[_Iterable[str]] = ..., resource_ids: _Optional[_Iterable[str]] = ..., limit: _Optional[int] = ..., after: _Optional[str] = ..., before: _Optional[str] = ..., tenant_only: _Optional[bool] = ...) -> None: ...

class ListAuditLogsResponse(_message.Message):
    __slots__ = ("object", "data", "first_id", "last_id", "has_more")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    object: str
    data: _containers.RepeatedCompositeFieldContainer[AuditLog]
    first_id: str
    last_id: str
    has_more: bool
    def __init__(self, object: _Optional[str] = ..., data: _Optional[_Iterable[_Union[AuditLog, _Mapping]]] = ..., first_id: _Optional[str] = ..., last_id: _Optional[str] = ..., has_more: _Optional[bool] = ...) -> None: ...

class AuditLog(_message.Message):
    __slots__ = ("id", "type", "effective_at", "project", "actor", "api_key_created", "api_key_updated", "api_key_deleted", "project_created", "project_updated", "project_archived", "service_account_created", "service_account_updated", "service_account_deleted", "invite_sent", "invite_accepted", "invite_deleted", "user_added", "user_updated", "user_deleted", "rate_limit_updated", "rate_limit_deleted", "login_succeeded", "login_failed", "logout_succeeded", "logout_failed")
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    API_KEY_CREATED_FIELD_NUMBER: _ClassVar[int]
    API_KEY_UPDATED_FIELD_NUMBER: _ClassVar[int]
    API_KEY_DELETED_FIELD_NUMBER: _ClassVar[int]
    PROJECT_CREATED_FIELD_NUMBER: _ClassVar[int]
    PROJECT_UPDATED_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ACCOUNT_CREATED_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ACCOUNT_UPDATED_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ACCOUNT_DELETED_FIELD_NUMBER: _ClassVar[int]
    INVITE_SENT_FIELD_NUMBER: _ClassVar[int]
    INVITE_ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    INVITE_DELETED_FIELD_NUMBER: _ClassVar[int]
    USER_ADDED_FIELD_NUMBER: _ClassVar[int]
    USER_UPDATED_FIELD_NUMBER: _ClassVar[int]
    USER_DELETED_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_UPDATED_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_DELETED_FIELD_NUMBER: _ClassVar[int]
    LOGIN_SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    LOGIN_FAILED_FIELD_NUMBER: _ClassVar[int]
    LOGOUT_SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    LOGOUT_FAILED_FIELD_NUMBER: _ClassVar[int]
    id: str
    type: str
    effective_at: int
    project: AuditLogProject
    actor: AuditLogActor
    api_key_created: AuditLogApiKeyCreated
    api_key_updated: AuditLogApiKeyUpdated
    api_key_deleted: AuditLogResource
    project_created: AuditLogProjectCreated
    project_updated: AuditLogProjectUpdated
    project_archived: AuditLogResource
    service_account_created: AuditLogRoleCreated
    service_account_updated: AuditLogRoleUpdated
    service_account_deleted: AuditLogResource
    invite_sent: AuditLogInviteSent
    invite_accepted: AuditLogResource
    invite_deleted: AuditLogResource
    user_added: AuditLogRoleCreated
    user_updated: AuditLogRoleUpdated
    user_deleted: AuditLogResource
    rate_limit_updated: AuditLogRateLimitUpdated
    rate_limit_deleted: AuditLogResource
    login_succeeded: AuditLogNoDetails
    login_failed: AuditLogFailure
    logout_succeeded: AuditLogNoDetails
    logout_failed: AuditLogFailure
    def __init__(self, id: _Optional[str] = ..., type: _Optional[str] = ..., effective_at: _Optional[int] = ..., project: _Optional[_Union[AuditLogProject, _Mapping]] = ..., actor: _Optional[_Union[AuditLogActor, _Mapping]] = ..., api_key_created: _Optional[_Union[AuditLogApiKeyCreated, _Mapping]] = ..., api_key_updated: _Optional[_Union[AuditLogApiKeyUpdated, _Mapping]] = ..., api_key_deleted: _Optional[_Union[AuditLogResource, _Mapping]] = ..., project_created: _Optional[_Union[AuditLogProjectCreated, _Mapping]] = ..., project_updated: _Optional[_Union[AuditLogProjectUpdated, _Mapping]] = ..., project_archived: _Optional[_Union[AuditLogResource, _Mapping]] = ..., service_account_created: _Optional[_Union[AuditLogRoleCreated, _Mapping]] = ..., service_account_updated: _Optional[_Union[AuditLogRoleUpdated, _Mapping]] = ..., service_account_deleted: _Optional[_Union[AuditLogResource, _Mapping]] = ..., invite_sent: _Optional[_Union[AuditLogInviteSent, _Mapping]] = ..., invite_accepted: _Optional[_Union[AuditLogResource, _Mapping]] = ..., invite_deleted: _Optional[_Union[AuditLogResource, _Mapping]] = ..., user_added: _Optional[_Union[AuditLogRoleCreated, _Mapping]] = ..., user_updated: _Optional[_Union[AuditLogRoleUpdated, _Mapping]] = ..., user_deleted: _Optional[_Union[AuditLogResource, _Mapping]] = ..., rate_limit_updated: _Optional[_Union[AuditLogRateLimitUpdated, _Mapping]] = ..., rate_limit_deleted: _Optional[_Union[AuditLogResource, _Mapping]] = ..., login_succeeded: _Optional[_Union[AuditLogNoDetails, _Mapping]] = ..., login_failed: _Optional[_Union[AuditLogFailure, _Mapping]] = ..., logout_succeeded: _Optional[_Union[AuditLogNoDetails, _Mapping]] = ..., logout_failed: _Optional[_Union[AuditLogFailure, _Mapping]] = ...) -> None: ...

class AuditLogProject(_message.Message):
    __slots__ = ("id", "name")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class AuditLogActor(_message.Message):
    __slots__ = ("type", "session", "api_key")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    type: str
    session: AuditLogActorSession
    api_key: AuditLogActorApiKey
    def __init__(self, type: _Optional[str] = ..., session: _Optional[_Union[AuditLogActorSession, _Mapping]] = ..., api_key: _Optional[_Union[AuditLogActorApiKey, _Mapping]] = ...) -> None: ...

class AuditLogActorSession(_message.Message):
    __slots__ = ("user", "ip_address")
    USER_FIELD_NUMBER: _ClassVar[int]
    IP_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    user: AuditLogActorUser
    ip_address: str
    def __init__(self, user: _Optional[_Union[AuditLogActorUser, _Mapping]] = ..., ip_address: _Optional[str] = ...) -> None: ...

class AuditLogActorApiKey(_message.Message):
    __slots__ = ("id", "type", "user", "service_account")
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    id: str
    type: str
    user: AuditLogActorUser
    service_account: AuditLogActorServiceAccount
    def __init__(self, id: _Optional[str] = ..., type: _Optional[str] = ..., user: _Optional[_Union[AuditLogActorUser, _Mapping]] = ..., service_account: _Optional[_Union[AuditLogActorServiceAccount, _Mapping]] = ...) -> None: ...

class AuditLogActorUser(_message.Message):
    __slots__ = ("id", "email")
    ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    id: str
    email: str
    def __init__(self, id: _Optional[str] = ..., email: _Optional[str] = ...) -> None: ...

class AuditLogActorServiceAccount(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class AuditLogResource(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class AuditLogNoDetails(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AuditLogFailure(_message.Message):
    __slots__ = ("error_code", "error_message")
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    error_code: str
    error_message: str
    def __init__(self, error_code: _Optional[str] = ..., error_message: _Optional[str] = ...) -> None: ...

class AuditLogApiKeyCreated(_message.Message):
    __slots__ = ("id", "data")
    ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    data: AuditLogApiKeyData
    def __init__(self, id: _Optional[str] = ..., data: _Optional[_Union[AuditLogApiKeyData, _Mapping]] = ...) -> None: ...

class AuditLogApiKeyUpdated(_message.Message):
    __slots__ = ("id", "changes_requested")
    ID_FIELD_NUMBER: _ClassVar[int]
    CHANGES_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    id: str
    changes_requested: AuditLogApiKeyData
    def __init__(self, id: _Optional[str] = ..., changes_requested: _Optional[_Union[AuditLogApiKeyData, _Mapping]] = ...) -> None: ...

class AuditLogApiKeyData(_message.Message):
    __slots__ = ("scopes",)
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    scopes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, scopes: _Optional[_Iterable[str]] = ...) -> None: ...

class AuditLogProjectCreated(_message.Message):
    __slots__ = ("id", "data")
    ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    data: AuditLogProjectData
    def __init__(self, id: _Optional[str] = ..., data: _Optional[_Union[AuditLogProjectData, _Mapping]] = ...) -> None: ...

class AuditLogProjectUpdated(_message.Message):
    __slots__ = ("id", "changes_requested")
    ID_FIELD_NUMBER: _ClassVar[int]
    CHANGES_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    id: str
    changes_requested: AuditLogProjectData
    def __init__(self, id: _Optional[str] = ..., changes_requested: _Optional[_Union[AuditLogProjectData, _Mapping]] = ...) -> None: ...

class AuditLogProjectData(_message.Message):
    __slots__ = ("name", "title")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    name: str
    title: str
    def __init__(self, name: _Optional[str] = ..., title: _Optional[str] = ...) -> None: ...

class AuditLogRoleCreated(_message.Message):
    __slots__ = ("id", "data")
    ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    data: AuditLogRoleData
    def __init__(self, id: _Optional[str] = ..., data: _Optional[_Union[AuditLogRoleData, _Mapping]] = ...) -> None: ...

class AuditLogRoleUpdated(_message.Message):
    __slots__ = ("id", "changes_requested")
    ID_FIELD_NUMBER: _ClassVar[int]
    CHANGES_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    id: str
    changes_requested: AuditLogRoleData
    def __init__(self, id: _Optional[str] = ..., changes_requested: _Optional[_Union[AuditLogRoleData, _Mapping]] = ...) -> None: ...

class AuditLogRoleData(_message.Message):
    __slots__ = ("role",)
    ROLE_FIELD_NUMBER: _ClassVar[int]
    role: str
    def __init__(self, role: _Optional[str] = ...) -> None: ...

class AuditLogInviteSent(_message.Message):
    __slots__ = ("id", "data")
    ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    data: AuditLogInviteData
    def __init__(self, id: _Optional[str] = ..., data: _Optional[_Union[AuditLogInviteData, _Mapping]] = ...) -> None: ...

class AuditLogInviteData(_message.Message):
    __slots__ = ("email", "role")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    email: str
    role: str
    def __init__(self, email: _Optional[str] = ..., role: _Optional[str] = ...) -> None: ...

class AuditLogRateLimitUpdated(_message.Message):
    __slots__ = ("id", "changes_requested")
    ID_FIELD_NUMBER: _ClassVar[int]
    CHANGES_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    id: str
    changes_requested: AuditLogRateLimitChanges
    def __init__(self, id: _Optional[str] = ..., changes_requested: _Optional[_Union[AuditLogRateLimitChanges, _Mapping]] = ...) -> None: ...

class AuditLogRateLimitChanges(_message.Message):
    __slots__ = ("max_requests_per_1_minute", "max_tokens_per_1_minute", "max_requests_per_1_day")
    MAX_REQUESTS_PER_1_MINUTE_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_PER_1_MINUTE_FIELD_NUMBER: _ClassVar[int]
    MAX_REQUESTS_PER_1_DAY_FIELD_NUMBER: _ClassVar[int]
    max_requests_per_1_minute: int
    max_tokens_per_1_minute: int
    max_requests_per_1_day: int
    def __init__(self, max_requests_per_1_minute: _Optional[int] = ..., max_tokens_per_1_minute: _Optional[int] = ..., max_requests_per_1_day: _Optional[int] = ...) -> None: ...
