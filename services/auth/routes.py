"""Which RPC a request will reach, worked out the way Envoy's gRPC-JSON transcoder does it.

The table is read from the jan.v1 service descriptors' google.api.http rules (bindings included), never
copied by hand, so a new REST route is covered the moment its proto is. Matching follows the
transcoder's path matcher: the query is ignored, a trailing ":verb" counts only when some rule uses that
verb, trailing empty segments are dropped, `*` is one segment and `**` the rest; rules with fewer
wildcards win. Native gRPC paths (/package.Service/Method) name their RPC directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from google.api import annotations_pb2
from google.protobuf import descriptor_pool

from services.common.server import API_SERVICES

_METHODS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class Rpc:
    service: str  # e.g. "jan.v1.SignInService"
    method: str  # e.g. "GetMe"

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.method}"


@dataclass(frozen=True)
class _Rule:
    http_method: str
    segments: tuple[str, ...]  # literals, "*" (one segment) or "**" (the rest)
    verb: str | None
    rpc: Rpc

    @property
    def rank(self) -> tuple[int, int]:
        return (self.segments.count("**"), self.segments.count("*"))


def _parse_template(template: str) -> tuple[tuple[str, ...], str | None]:
    """'/v1/x/{id}/y:verb' -> (('v1', 'x', '*', 'y'), 'verb'); '{name=a/*}' expands to its own segments."""
    segments: list[str] = []
    verb = None
    i, text = 0, template.lstrip("/")
    current = ""
    while i < len(text):
        c = text[i]
        if c == "{":
            end = text.index("}", i)
            _, _, pattern = text[i + 1 : end].partition("=")
            segments.extend((pattern or "*").split("/"))
            i = end + 1
            continue
        if c == "/":
            if current:
                segments.append(current)
            current = ""
        elif c == ":" and "/" not in text[i:]:
            verb = text[i + 1 :]
            break
        else:
            current += c
        i += 1
    if current:
        segments.append(current)
    return tuple(segments), verb


class RouteTable:
    def __init__(self, services: Iterable[str] = API_SERVICES) -> None:
        pool = descriptor_pool.Default()
        self.services = tuple(pool.FindServiceByName(name) for name in services)
        self.rpcs: dict[str, Rpc] = {}
        rules: list[_Rule] = []
        for service in self.services:
            for method in service.methods:
                rpc = Rpc(service.full_name, method.name)
                self.rpcs[rpc.path] = rpc
                options = method.GetOptions()
                if not options.HasExtension(annotations_pb2.http):
                    continue
                http_rule = options.Extensions[annotations_pb2.http]
                for binding in (http_rule, *http_rule.additional_bindings):
                    kind = binding.WhichOneof("pattern")
                    if kind in _METHODS:
                        http_method, template = kind.upper(), getattr(binding, kind)
                    elif kind == "custom":
                        http_method, template = binding.custom.kind.upper(), binding.custom.path
                    else:
                        continue
                    segments, verb = _parse_template(template)
                    rules.append(_Rule(http_method, segments, verb, rpc))
        rules.sort(key=lambda r: r.rank)
        self._rules: dict[str, list[_Rule]] = {}
        for rule in rules:
            self._rules.setdefault(rule.http_method, []).append(rule)
        self._verbs = {r.verb for r in rules if r.verb}

    def rest_rules(self) -> list[tuple[str, str, Rpc]]:
        """(HTTP method, template, RPC) for every rule, for tests and documentation."""
        out = []
        for method, rules in self._rules.items():
            for r in rules:
                out.append((method, "/" + "/".join(r.segments) + (f":{r.verb}" if r.verb else ""), r.rpc))
        return out

    def grpc(self, path: str) -> Rpc | None:
        return self.rpcs.get(path)

    def rest(self, http_method: str, path: str) -> Rpc | None:
        path = path.split("?", 1)[0].split("#", 1)[0]
        verb = None
        colon, slash = path.rfind(":"), path.rfind("/")
        if colon > slash and path[colon + 1 :] in self._verbs:
            path, verb = path[:colon], path[colon + 1 :]
        parts = path[1:].split("/") if path.startswith("/") else path.split("/")
        while parts and not parts[-1]:
            parts.pop()
        rules = [r for r in self._rules.get(http_method.upper(), ()) if r.verb == verb]
        # As sent first (what the transcoder compares); then percent-decoded, in case a proxy decodes later.
        for candidate in (parts, [unquote(p) for p in parts]):
            for rule in rules:
                if _matches(rule.segments, candidate):
                    return rule.rpc
        return None


def _matches(segments: tuple[str, ...], parts: list[str]) -> bool:
    for i, segment in enumerate(segments):
        if segment == "**":
            return True
        if i >= len(parts):
            return False
        if segment != "*" and segment != parts[i]:
            return False
    return len(parts) == len(segments)
