from google.api import annotations_pb2 as _annotations_pb2
from jan.v1 import access_pb2 as _access_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProjectRateLimit(_message.Message):
    __slots__ = ("object", "id", "model", "max_requests_per_1_minute", "max_tokens_per_1_minute", "max_requests_per_1_day")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MAX_REQUESTS_PER_1_MINUTE_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_PER_1_MINUTE_FIELD_NUMBER: _ClassVar[int]
    MAX_REQUESTS_PER_1_DAY_FIELD_NUMBER: _ClassVar[int]
    object: str
    id: str
    model: str
    max_requests_per_1_minute: int
    max_tokens_per_1_minute: int
    max_requests_per_1_day: int
    def __init__(self, object: _Optional[str] = ..., id: _Optional[str] = ..., model: _Optional[str] = ..., max_requests_per_1_minute: _Optional[int] = ..., max_tokens_per_1_minute: _Optional[int] = ..., max_requests_per_1_day: _Optional[int] = ...) -> None: ...

class ListProjectRateLimitsRequest(_message.Message):
    __slots__ = ("project_id", "limit", "after", "before")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    limit: int
    after: str
    before: str
    def __init__(self, project_id: _Optional[str] = ..., limit: _Optional[int] = ..., after: _Optional[str] = ..., before: _Optional[str] = ...) -> None: ...

class ListProjectRateLimitsResponse(_message.Message):
    __slots__ = ("object", "data", "first_id", "last_id", "has_more")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    object: str
    data: _containers.RepeatedCompositeFieldContainer[ProjectRateLimit]
    first_id: str
    last_id: str
    has_more: bool
    def __init__(self, object: _Optional[str] = ..., data: _Optional[_Iterable[_Union[ProjectRateLimit, _Mapping]]] = ..., first_id: _Optional[str] = ..., last_id: _Optional[str] = ..., has_more: _Optional[bool] = ...) -> None: ...

class UpdateProjectRateLimitRequest(_message.Message):
    __slots__ = ("project_id", "rate_limit_id", "max_requests_per_1_minute", "max_tokens_per_1_minute", "max_requests_per_1_day", "max_images_per_1_minute", "max_audio_megabytes_per_1_minute", "batch_1_day_max_input_tokens")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_REQUESTS_PER_1_MINUTE_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_PER_1_MINUTE_FIELD_NUMBER: _ClassVar[int]
    MAX_REQUESTS_PER_1_DAY_FIELD_NUMBER: _ClassVar[int]
    MAX_IMAGES_PER_1_MINUTE_FIELD_NUMBER: _ClassVar[int]
    MAX_AUDIO_MEGABYTES_PER_1_MINUTE_FIELD_NUMBER: _ClassVar[int]
    BATCH_1_DAY_MAX_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    rate_limit_id: str
    max_requests_per_1_minute: int
    max_tokens_per_1_minute: int
    max_requests_per_1_day: int
    max_images_per_1_minute: int
    max_audio_megabytes_per_1_minute: int
    batch_1_day_max_input_tokens: int
    def __init__(self, project_id: _Optional[str] = ..., rate_limit_id: _Optional[str] = ..., max_requests_per_1_minute: _Optional[int] = ..., max_tokens_per_1_minute: _Optional[int] = ..., max_requests_per_1_day: _Optional[int] = ..., max_images_per_1_minute: _Optional[int] = ..., max_audio_megabytes_per_1_minute: _Optional[int] = ..., batch_1_day_max_input_tokens: _Optional[int] = ...) -> None: ...

class ProjectModelPermissions(_message.Message):
    __slots__ = ("object", "mode", "model_ids")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    MODEL_IDS_FIELD_NUMBER: _ClassVar[int]
    object: str
    mode: str
    model_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, object: _Optional[str] = ..., mode: _Optional[str] = ..., model_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetProjectModelPermissionsRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class UpdateProjectModelPermissionsRequest(_message.Message):
    __slots__ = ("project_id", "mode", "model_ids")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    MODEL_IDS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    mode: str
    model_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, project_id: _Optional[str] = ..., mode: _Optional[str] = ..., model_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteProjectModelPermissionsRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class DeleteProjectModelPermissionsResponse(_message.Message):
    __slots__ = ("object", "deleted")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    object: str
    deleted: bool
    def __init__(self, object: _Optional[str] = ..., deleted: _Optional[bool] = ...) -> None: ...

class HostedToolPermission(_message.Message):
    __slots__ = ("enabled",)
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    def __init__(self, enabled: _Optional[bool] = ...) -> None: ...

class ProjectHostedToolPermissions(_message.Message):
    __slots__ = ("file_search", "web_search", "image_generation", "mcp", "code_interpreter")
    FILE_SEARCH_FIELD_NUMBER: _ClassVar[int]
    WEB_SEARCH_FIELD_NUMBER: _ClassVar[int]
    IMAGE_GENERATION_FIELD_NUMBER: _ClassVar[int]
    MCP_FIELD_NUMBER: _ClassVar[int]
    CODE_INTERPRETER_FIELD_NUMBER: _ClassVar[int]
    file_search: HostedToolPermission
    web_search: HostedToolPermission
    image_generation: HostedToolPermission
    mcp: HostedToolPermission
    code_interpreter: HostedToolPermission
    def __init__(self, file_search: _Optional[_Union[HostedToolPermission, _Mapping]] = ..., web_search: _Optional[_Union[HostedToolPermission, _Mapping]] = ..., image_generation: _Optional[_Union[HostedToolPermission, _Mapping]] = ..., mcp: _Optional[_Union[HostedToolPermission, _Mapping]] = ..., code_interpreter: _Optional[_Union[HostedToolPermission, _Mapping]] = ...) -> None: ...

class GetProjectHostedToolPermissionsRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class UpdateProjectHostedToolPermissionsRequest(_message.Message):
    __slots__ = ("project_id", "file_search", "web_search", "image_generation", "mcp", "code_interpreter")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_SEARCH_FIELD_NUMBER: _ClassVar[int]
    WEB_SEARCH_FIELD_NUMBER: _ClassVar[int]
    IMAGE_GENERATION_FIELD_NUMBER: _ClassVar[int]
    MCP_FIELD_NUMBER: _ClassVar[int]
    CODE_INTERPRETER_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    file_search: HostedToolPermission
    web_search: HostedToolPermission
    image_generation: HostedToolPermission
    mcp: HostedToolPermission
    code_interpreter: HostedToolPermission
    def __init__(self, project_id: _Optional[str] = ..., file_search: _Optional[_Union[HostedToolPermission, _Mapping]] = ..., web_search: _Optional[_Union[HostedToolPermission, _Mapping]] = ..., image_generation: _Optional[_Union[HostedToolPermission, _Mapping]] = ..., mcp: _Optional[_Union[HostedToolPermission, _Mapping]] = ..., code_interpreter: _Optional[_Union[HostedToolPermission, _Mapping]] = ...) -> None: ...

class ListProjectControlsChangesRequest(_message.Message):
    __slots__ = ("after_version",)
    AFTER_VERSION_FIELD_NUMBER: _ClassVar[int]
    after_version: int
    def __init__(self, after_version: _Optional[int] = ...) -> None: ...

class ListProjectControlsChangesResponse(_message.Message):
    __slots__ = ("version", "projects")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PROJECTS_FIELD_NUMBER: _ClassVar[int]
    version: int
    projects: _containers.RepeatedCompositeFieldContainer[ProjectControls]
    def __init__(self, version: _Optional[int] = ..., projects: _Optional[_Iterable[_Union[ProjectControls, _Mapping]]] = ...) -> None: ...

class ProjectControls(_message.Message):
    __slots__ = ("project_id", "rate_limits", "model_mode", "model_ids", "web_search_enabled")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMITS_FIELD_NUMBER: _ClassVar[int]
    MODEL_MODE_FIELD_NUMBER: _ClassVar[int]
    MODEL_IDS_FIELD_NUMBER: _ClassVar[int]
    WEB_SEARCH_ENABLED_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    rate_limits: _containers.RepeatedCompositeFieldContainer[ProjectRateLimit]
    model_mode: str
    model_ids: _containers.RepeatedScalarFieldContainer[str]
    web_search_enabled: bool
    def __init__(self, project_id: _Optional[str] = ..., rate_limits: _Optional[_Iterable[_Union[ProjectRateLimit, _Mapping]]] = ..., model_mode: _Optional[str] = ..., model_ids: _Optional[_Iterable[str]] = ..., web_search_enabled: _Optional[bool] = ...) -> None: ...
