"""Routing, compiled once per snapshot.

API: longest context+version prefix of the raw path, by dict lookups (one per path depth, never a scan
over all APIs). Resource: method + path template, matched on a segment trie (literal before {param}
before a final *). A path that exists without the method yields the allowed set (405 + Allow).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from gateway.config.model import ResourceConfig

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Resource:
    methods: tuple[str, ...]
    template: str
    param_names: tuple[str, ...]


class _Node:
    __slots__ = ("static", "param", "methods", "wildcard")

    def __init__(self) -> None:
        self.static: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.methods: dict[str, Resource] = {}
        self.wildcard: dict[str, Resource] = {}


def _add_methods(table: dict[str, Resource], resource: Resource) -> None:
    for method in resource.methods:
        table.setdefault(method, resource)
    if "GET" in resource.methods:
        table.setdefault("HEAD", resource)  # HEAD is served wherever GET is


class ResourceMatcher:
    """Matches the path below an API prefix against that API's resources."""

    def __init__(self, resources: Iterable[ResourceConfig]) -> None:
        self._root = _Node()
        for config in resources:
            self._add(config)

    def _add(self, config: ResourceConfig) -> None:
        segments = [] if config.path == "/" else config.path.rstrip("/").split("/")[1:]
        names = tuple(s[1:-1] for s in segments if s.startswith("{"))
        resource = Resource(methods=config.methods, template=config.path, param_names=names)
        node = self._root
        for segment in segments:
            if segment == "*":
                _add_methods(node.wildcard, resource)
                return
            if segment.startswith("{"):
                if node.param is None:
                    node.param = _Node()
                node = node.param
            else:
                node = node.static.setdefault(segment, _Node())
        _add_methods(node.methods, resource)

    def match(self, method: str, rest: str) -> tuple[Resource | None, dict[str, str] | None, set[str]]:
        """Returns (resource, params, allowed). resource None + allowed non-empty means 405."""
        if rest in ("", "/"):
            segments: list[str] = []
        else:
            segments = rest[1:].split("/")
            if segments[-1] == "":
                segments.pop()  # one trailing slash is not a segment
        values: list[str] = []
        allowed: set[str] = set()
        resource = self._walk(self._root, segments, 0, method, values, allowed)
        if resource is None:
            return None, None, allowed
        params = dict(zip(resource.param_names, values, strict=False)) if resource.param_names else None
        return resource, params, allowed

    def _walk(
        self, node: _Node, segments: list[str], i: int, method: str, values: list[str], allowed: set[str]
    ) -> Resource | None:
        if i == len(segments):
            if node.methods:
                found = node.methods.get(method) or node.methods.get("ANY")
                if found is not None:
                    return found
                allowed.update(node.methods)
            return self._wild(node, method, allowed)
        segment = segments[i]
        child = node.static.get(segment)
        if child is not None:
            found = self._walk(child, segments, i + 1, method, values, allowed)
            if found is not None:
                return found
        if node.param is not None and segment:
            values.append(segment)
            found = self._walk(node.param, segments, i + 1, method, values, allowed)
            if found is not None:
                return found
            values.pop()
        return self._wild(node, method, allowed)

    @staticmethod
    def _wild(node: _Node, method: str, allowed: set[str]) -> Resource | None:
        if not node.wildcard:
            return None
        found = node.wildcard.get(method) or node.wildcard.get("ANY")
        if found is None:
            allowed.update(node.wildcard)
        return found


class PrefixRouter(Generic[T]):
    """Longest-prefix match of whole path segments: '/a/b/v1' matches '/a/b/v1' and '/a/b/v1/x', not '/a/b/v10'."""

    def __init__(self, entries: dict[str, T]) -> None:
        self._by_prefix = dict(entries)
        self._max_depth = max((p.count("/") for p in entries), default=0)

    def match(self, path: str) -> tuple[T, str] | None:
        parts = path.split("/", self._max_depth + 1)
        for depth in range(min(len(parts) - 1, self._max_depth), 0, -1):
            prefix = "/".join(parts[: depth + 1])
            entry = self._by_prefix.get(prefix)
            if entry is not None:
                return entry, path[len(prefix) :]
        return None
