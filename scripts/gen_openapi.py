"""Writes our OpenAPI 3.1 document from a descriptor set of protos/ (run by scripts/gen_protos.sh).

Usage: gen_openapi.py DESCRIPTOR_SET OUT.json [STUBS_DIR] (the set built with --include_imports and
--include_source_info; STUBS_DIR holds the generated jan.v1 stubs, gen/python by default).

What Envoy serves is what the document says: every `google.api.http` rule of every jan.v1 service (path,
method, path parameters, the other fields as query parameters when the rule's body is not "*", the body per
the rule's `body`), schemas in the JSON the transcoder prints and parses (proto field names, as it runs with
preserve_proto_field_names; enums by name; 64-bit integers as strings), the access level of each RPC
(`option (jan.v1.access)`) as its security requirement (none for PUBLIC routes, a bearer credential
otherwise), every error in OpenAI's error shape, and the plain-HTTP routes services declare with
`option (jan.v1.http_routes)`. Routes answered with google.api.HttpBody are rendered by the service itself
(OpenAI's JSON, or server-sent events when streamed); their schema is left open here.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

# The stubs just generated (argv[3]; gen/python by default): access_pb2 registers the jan.v1 options.
sys.path.insert(0, sys.argv[3] if len(sys.argv) > 3 else str(Path(__file__).resolve().parent.parent / "gen" / "python"))
from jan.v1 import access_pb2

FieldProto = descriptor_pb2.FieldDescriptorProto
PACKAGE = "jan.v1"
HTTP_BODY = "google.api.HttpBody"
ERROR = {"$ref": "#/components/schemas/ErrorResponse"}
ERROR_SCHEMA = {
    "type": "object",
    "description": "OpenAI's error object: every error a REST caller gets has this shape.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}

_INT32 = {"type": "integer", "format": "int32", "minimum": -(2**31), "maximum": 2**31 - 1}
_UINT32 = {"type": "integer", "minimum": 0, "maximum": 2**32 - 1}
_INT64 = {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"}
_UINT64 = {"type": "string", "format": "int64", "pattern": "^[0-9]+$"}
SCALARS: dict[int, dict[str, Any]] = {
    FieldProto.TYPE_DOUBLE: {"type": "number"},
    FieldProto.TYPE_FLOAT: {"type": "number", "format": "float"},
    FieldProto.TYPE_INT32: _INT32,
    FieldProto.TYPE_SINT32: _INT32,
    FieldProto.TYPE_SFIXED32: _INT32,
    FieldProto.TYPE_UINT32: _UINT32,
    FieldProto.TYPE_FIXED32: _UINT32,
    FieldProto.TYPE_INT64: _INT64,
    FieldProto.TYPE_SINT64: _INT64,
    FieldProto.TYPE_SFIXED64: _INT64,
    FieldProto.TYPE_UINT64: _UINT64,
    FieldProto.TYPE_FIXED64: _UINT64,
    FieldProto.TYPE_BOOL: {"type": "boolean"},
    FieldProto.TYPE_STRING: {"type": "string"},
    FieldProto.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}

# Well-known types print as JSON values of their own (proto3's JSON mapping), not as objects of fields.
WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array"},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Any": {"type": "object", "properties": {"@type": {"type": "string"}}},
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$"},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.DoubleValue": {"type": ["number", "null"]},
    "google.protobuf.FloatValue": {"type": ["number", "null"]},
    "google.protobuf.Int32Value": {**_INT32, "type": ["integer", "null"]},
    "google.protobuf.UInt32Value": {**_UINT32, "type": ["integer", "null"]},
    "google.protobuf.Int64Value": {**_INT64, "type": ["string", "null"]},
    "google.protobuf.UInt64Value": {**_UINT64, "type": ["string", "null"]},
    "google.protobuf.BoolValue": {"type": ["boolean", "null"]},
    "google.protobuf.StringValue": {"type": ["string", "null"]},
    "google.protobuf.BytesValue": {"type": ["string", "null"]},
}
METHODS = ("get", "put", "post", "delete", "patch")


def _comment(text: str) -> str:
    return " ".join(line.strip() for line in text.strip().splitlines())


class Descriptors:
    """The messages and enums of a descriptor set by full name, with their proto comments."""

    def __init__(self, files: descriptor_pb2.FileDescriptorSet) -> None:
        self.files = list(files.file)
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.enums: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
        self.comments: dict[str, str] = {}  # full name (fields: message.field) -> leading comment
        for file in self.files:
            locations = {tuple(loc.path): loc.leading_comments for loc in file.source_code_info.location}
            for i, message in enumerate(file.message_type):
                self._add_message(f"{file.package}.{message.name}", message, (4, i), locations)
            for enum in file.enum_type:
                self.enums[f"{file.package}.{enum.name}"] = enum
            for i, service in enumerate(file.service):
                for j, method in enumerate(service.method):
                    text = locations.get((6, i, 2, j), "")
                    self.comments[f"{file.package}.{service.name}.{method.name}"] = _comment(text)
                self.comments[f"{file.package}.{service.name}"] = _comment(locations.get((6, i), ""))

    def _add_message(self, name: str, message: Any, path: tuple[int, ...], locations: dict) -> None:
        self.messages[name] = message
        self.comments[name] = _comment(locations.get(path, ""))
        for k, field in enumerate(message.field):
            self.comments[f"{name}.{field.name}"] = _comment(locations.get((*path, 2, k), ""))
        for k, nested in enumerate(message.nested_type):
            self._add_message(f"{name}.{nested.name}", nested, (*path, 3, k), locations)
        for nested_enum in message.enum_type:
            self.enums[f"{name}.{nested_enum.name}"] = nested_enum


class Document:
    def __init__(self, descriptors: Descriptors) -> None:
        self.d = descriptors
        self.schemas: dict[str, Any] = {"ErrorResponse": ERROR_SCHEMA}
        self.paths: dict[str, dict[str, Any]] = {}

    # -- schemas -------------------------------------------------------------------------------------------
    def type_schema(self, field: FieldProto) -> dict[str, Any]:
        """The JSON schema of one value of the field (not counting `repeated`)."""
        if field.type == FieldProto.TYPE_ENUM:
            return self.enum_schema(field.type_name.lstrip("."))
        if field.type == FieldProto.TYPE_MESSAGE:
            return self.message_ref(field.type_name.lstrip("."))
        return dict(SCALARS[field.type])

    def field_schema(self, owner: str, field: FieldProto) -> dict[str, Any]:
        entry = self.d.messages.get(field.type_name.lstrip(".")) if field.type == FieldProto.TYPE_MESSAGE else None
        if entry is not None and entry.options.map_entry:
            value = next(f for f in entry.field if f.name == "value")
            schema: dict[str, Any] = {"type": "object", "additionalProperties": self.type_schema(value)}
        elif field.label == FieldProto.LABEL_REPEATED:
            schema = {"type": "array", "items": self.type_schema(field)}
        else:
            schema = self.type_schema(field)
        description = self.d.comments.get(f"{owner}.{field.name}")
        return {**schema, "description": description} if description else schema

    def enum_schema(self, name: str) -> dict[str, Any]:
        enum = self.d.enums[name]
        component = self._component_name(name)
        if component not in self.schemas:
            self.schemas[component] = {"type": "string", "enum": [v.name for v in enum.value]}
        return {"$ref": f"#/components/schemas/{component}"}

    def message_ref(self, name: str) -> dict[str, Any]:
        if name in WELL_KNOWN:
            return dict(WELL_KNOWN[name])
        component = self._component_name(name)
        if component not in self.schemas:
            self.schemas[component] = {}  # placed first: a message may refer to itself
            self.schemas[component] = self.message_schema(name)
        return {"$ref": f"#/components/schemas/{component}"}

    def message_schema(self, name: str, leave_out: frozenset[str] = frozenset()) -> dict[str, Any]:
        message = self.d.messages[name]
        properties = {f.name: self.field_schema(name, f) for f in message.field if f.name not in leave_out}
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if self.d.comments.get(name):
            schema["description"] = self.d.comments[name]
        return schema

    @staticmethod
    def _component_name(name: str) -> str:
        return name.removeprefix(f"{PACKAGE}.")

    # -- operations ----------------------------------------------------------------------------------------
    def add_rule(self, service: str, method: descriptor_pb2.MethodDescriptorProto, rule: http_pb2.HttpRule) -> None:
        verb = rule.WhichOneof("pattern")
        if verb is None or verb == "custom":
            return
        template = getattr(rule, verb)
        path_fields = re.findall(r"\{([\w.]+)(?:=[^}]*)?\}", template)
        path = re.sub(r"\{([\w.]+)(?:=[^}]*)?\}", r"{\1}", template)
        request = method.input_type.lstrip(".")
        message = self.d.messages[request]
        fields = {f.name: f for f in message.field}
        full = f"{service}.{method.name}"
        access = access_pb2.Access.Name(method.options.Extensions[access_pb2.access]).removeprefix("ACCESS_")
        operation: dict[str, Any] = {
            "operationId": full.removeprefix(f"{PACKAGE}."),
            "tags": [service.removeprefix(f"{PACKAGE}.")],
            "x-jan-access": access.lower(),
        }
        summary = self.d.comments.get(full, "")
        if summary:
            operation["summary"] = summary.split(". ")[0].rstrip(".")
            operation["description"] = summary
        if access == "PUBLIC":
            operation["security"] = []
        parameters = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": self.type_schema(fields[name]) if name in fields else {"type": "string"},
            }
            for name in path_fields
        ]
        if rule.body != "*":
            for field in message.field:
                if field.name not in path_fields and field.name != rule.body:
                    parameters += self.query_parameters(request, field, field.name)
        if parameters:
            operation["parameters"] = parameters
        if rule.body == "*":
            body = self.message_schema(request, frozenset(path_fields))
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        elif rule.body:
            body = self.field_schema(request, fields[rule.body])
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        operation["responses"] = {
            "200": self.answer(method, rule),
            "default": {"description": "An error", "content": {"application/json": {"schema": ERROR}}},
        }
        self.paths.setdefault(path, {})[verb] = operation

    def query_parameters(self, owner: str, field: FieldProto, name: str, depth: int = 0) -> list[dict[str, Any]]:
        """The query parameters one request field can be given by: scalars, enums and repeated scalars by
        name, a message's scalar fields by dotted name (one level down)."""
        type_name = field.type_name.lstrip(".")
        if field.type == FieldProto.TYPE_MESSAGE:
            if type_name.startswith("google.protobuf.") and type_name.endswith("Value") and type_name in WELL_KNOWN:
                if type_name in ("google.protobuf.Value", "google.protobuf.ListValue"):
                    return []
                schema = dict(WELL_KNOWN[type_name])
                schema["type"] = next(t for t in schema["type"] if t != "null")
                return [self._query(name, schema, owner, field)]
            nested = self.d.messages.get(type_name)
            if depth > 0 or nested is None or nested.options.map_entry or type_name in WELL_KNOWN:
                return []
            found: list[dict[str, Any]] = []
            for sub in nested.field:
                found += self.query_parameters(type_name, sub, f"{name}.{sub.name}", depth + 1)
            return found
        schema = self.type_schema(field)
        if field.label == FieldProto.LABEL_REPEATED:
            schema = {"type": "array", "items": schema}
        return [self._query(name, schema, owner, field)]

    def _query(self, name: str, schema: dict[str, Any], owner: str, field: FieldProto) -> dict[str, Any]:
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": schema}
        if schema.get("type") == "array":
            parameter.update(style="form", explode=True)
        description = self.d.comments.get(f"{owner}.{field.name}")
        if description:
            parameter["description"] = description
        return parameter

    def answer(self, method: descriptor_pb2.MethodDescriptorProto, rule: http_pb2.HttpRule) -> dict[str, Any]:
        output = method.output_type.lstrip(".")
        if output == HTTP_BODY:
            content_type = "text/event-stream" if method.server_streaming else "application/json"
            return {"description": "Rendered by the service", "content": {content_type: {"schema": {}}}}
        if rule.response_body:
            fields = {f.name: f for f in self.d.messages[output].field}
            schema = self.field_schema(output, fields[rule.response_body])
        else:
            schema = self.message_ref(output)
        content_type = "text/event-stream" if method.server_streaming else "application/json"
        return {"description": "OK", "content": {content_type: {"schema": schema}}}

    def add_plain_route(self, service: str, route: Any) -> None:
        """A plain-HTTP route (`option (jan.v1.http_routes)`): its methods, access and description."""
        access = access_pb2.Access.Name(route.access).removeprefix("ACCESS_")
        for verb in route.methods or ["get", "post"]:
            operation: dict[str, Any] = {
                "operationId": f"{service.removeprefix(f'{PACKAGE}.')}.{verb}{route.path}",
                "tags": [service.removeprefix(f"{PACKAGE}.")],
                "x-jan-access": access.lower(),
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {"schema": {}}}},
                    "default": {"description": "An error", "content": {"application/json": {"schema": ERROR}}},
                },
            }
            if route.description:
                operation["summary"] = route.description
            if access == "PUBLIC":
                operation["security"] = []
            if verb.lower() in ("post", "put", "patch"):
                operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": {}}}}
            self.paths.setdefault(route.path, {})[verb.lower()] = operation

    def render(self) -> dict[str, Any]:
        for file in self.d.files:
            if file.package != PACKAGE:
                continue
            for service in file.service:
                name = f"{file.package}.{service.name}"
                for route in service.options.Extensions[access_pb2.http_routes]:
                    self.add_plain_route(name, route)
                for method in service.method:
                    rule = method.options.Extensions[annotations_pb2.http]
                    for binding in [rule, *rule.additional_bindings]:
                        self.add_rule(name, method, binding)
        return {
            "openapi": "3.1.0",
            "info": {
                "title": "Jan Server",
                "version": "v1",
                "description": "Jan Server's REST API, generated from protos/jan/v1 by `make proto`. Errors are "
                "OpenAI's error object; every route needs a bearer credential (a session's access token or an "
                "API key) unless it says otherwise.",
            },
            "servers": [{"url": "/"}],
            "security": [{"bearer": []}],
            "paths": {path: dict(sorted(ops.items())) for path, ops in sorted(self.paths.items())},
            "components": {
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                "schemas": dict(sorted(self.schemas.items())),
            },
        }


def main(argv: list[str]) -> None:
    files = descriptor_pb2.FileDescriptorSet.FromString(Path(argv[1]).read_bytes())
    document = Document(Descriptors(files)).render()
    Path(argv[2]).write_text(json.dumps(document, indent=1, sort_keys=False) + "\n")


if __name__ == "__main__":
    main(sys.argv)
