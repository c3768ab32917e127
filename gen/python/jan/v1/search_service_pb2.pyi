from jan.v1 import access_pb2 as _access_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SearchRequest(_message.Message):
    __slots__ = ("q", "gl", "hl", "location", "num", "tbs", "page", "autocorrect")
    Q_FIELD_NUMBER: _ClassVar[int]
    GL_FIELD_NUMBER: _ClassVar[int]
    HL_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    NUM_FIELD_NUMBER: _ClassVar[int]
    TBS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    AUTOCORRECT_FIELD_NUMBER: _ClassVar[int]
    q: str
    gl: str
    hl: str
    location: str
    num: int
    tbs: str
    page: int
    autocorrect: bool
    def __init__(self, q: _Optional[str] = ..., gl: _Optional[str] = ..., hl: _Optional[str] = ..., location: _Optional[str] = ..., num: _Optional[int] = ..., tbs: _Optional[str] = ..., page: _Optional[int] = ..., autocorrect: _Optional[bool] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("organic", "answer_box", "knowledge_graph", "people_also_ask", "related_searches", "news")
    ORGANIC_FIELD_NUMBER: _ClassVar[int]
    ANSWER_BOX_FIELD_NUMBER: _ClassVar[int]
    KNOWLEDGE_GRAPH_FIELD_NUMBER: _ClassVar[int]
    PEOPLE_ALSO_ASK_FIELD_NUMBER: _ClassVar[int]
    RELATED_SEARCHES_FIELD_NUMBER: _ClassVar[int]
    NEWS_FIELD_NUMBER: _ClassVar[int]
    organic: _containers.RepeatedCompositeFieldContainer[OrganicResult]
    answer_box: AnswerBox
    knowledge_graph: KnowledgeGraph
    people_also_ask: _containers.RepeatedCompositeFieldContainer[PeopleAlsoAsk]
    related_searches: _containers.RepeatedScalarFieldContainer[str]
    news: _containers.RepeatedCompositeFieldContainer[NewsResult]
    def __init__(self, organic: _Optional[_Iterable[_Union[OrganicResult, _Mapping]]] = ..., answer_box: _Optional[_Union[AnswerBox, _Mapping]] = ..., knowledge_graph: _Optional[_Union[KnowledgeGraph, _Mapping]] = ..., people_also_ask: _Optional[_Iterable[_Union[PeopleAlsoAsk, _Mapping]]] = ..., related_searches: _Optional[_Iterable[str]] = ..., news: _Optional[_Iterable[_Union[NewsResult, _Mapping]]] = ...) -> None: ...

class NewsResult(_message.Message):
    __slots__ = ("title", "link", "source", "date", "snippet")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    SNIPPET_FIELD_NUMBER: _ClassVar[int]
    title: str
    link: str
    source: str
    date: str
    snippet: str
    def __init__(self, title: _Optional[str] = ..., link: _Optional[str] = ..., source: _Optional[str] = ..., date: _Optional[str] = ..., snippet: _Optional[str] = ...) -> None: ...

class OrganicResult(_message.Message):
    __slots__ = ("title", "link", "snippet", "date", "position", "sitelinks")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    SNIPPET_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    SITELINKS_FIELD_NUMBER: _ClassVar[int]
    title: str
    link: str
    snippet: str
    date: str
    position: int
    sitelinks: _containers.RepeatedCompositeFieldContainer[Sitelink]
    def __init__(self, title: _Optional[str] = ..., link: _Optional[str] = ..., snippet: _Optional[str] = ..., date: _Optional[str] = ..., position: _Optional[int] = ..., sitelinks: _Optional[_Iterable[_Union[Sitelink, _Mapping]]] = ...) -> None: ...

class Sitelink(_message.Message):
    __slots__ = ("title", "link")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    title: str
    link: str
    def __init__(self, title: _Optional[str] = ..., link: _Optional[str] = ...) -> None: ...

class AnswerBox(_message.Message):
    __slots__ = ("title", "answer", "snippet", "link")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    SNIPPET_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    title: str
    answer: str
    snippet: str
    link: str
    def __init__(self, title: _Optional[str] = ..., answer: _Optional[str] = ..., snippet: _Optional[str] = ..., link: _Optional[str] = ...) -> None: ...

class KnowledgeGraph(_message.Message):
    __slots__ = ("title", "type", "description", "website", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TITLE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    WEBSITE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    title: str
    type: str
    description: str
    website: str
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, title: _Optional[str] = ..., type: _Optional[str] = ..., description: _Optional[str] = ..., website: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PeopleAlsoAsk(_message.Message):
    __slots__ = ("question", "snippet", "title", "link")
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    SNIPPET_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    question: str
    snippet: str
    title: str
    link: str
    def __init__(self, question: _Optional[str] = ..., snippet: _Optional[str] = ..., title: _Optional[str] = ..., link: _Optional[str] = ...) -> None: ...

class ScrapeRequest(_message.Message):
    __slots__ = ("url", "include_markdown")
    URL_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_MARKDOWN_FIELD_NUMBER: _ClassVar[int]
    url: str
    include_markdown: bool
    def __init__(self, url: _Optional[str] = ..., include_markdown: _Optional[bool] = ...) -> None: ...

class ScrapeResponse(_message.Message):
    __slots__ = ("text", "markdown", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MARKDOWN_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    text: str
    markdown: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, text: _Optional[str] = ..., markdown: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...
