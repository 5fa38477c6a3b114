"""GitHub's OpenAPI description (the committed subset): operation lookup, examples, validation.

The subset is loaded and the openapi-core validator built once per process. The server maps
GitHub Enterprise paths (`/api/v3/...`, `/api/uploads/...`) to the spec's paths itself and
hands openapi-core the matched path template and the operation's own server URL, so the
validator never has to guess which operation a request is.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

SUBSET = Path(__file__).resolve().parent / "openapi_subset.json"
METHODS = ("get", "put", "post", "patch", "delete")


@dataclass(frozen=True)
class Operation:
    op_id: str
    method: str  # lower case
    template: str  # the spec's path, e.g. /repos/{owner}/{repo}/releases/{release_id}
    regex: re.Pattern[str]
    host_url: str  # the operation's server: https://api.github.com or https://uploads.github.com
    responses: frozenset[str]  # documented status codes ("200", "default", ...)
    required_query: frozenset[str]

    def documents(self, status: int) -> bool:
        return str(status) in self.responses or "default" in self.responses


class _Request:
    """openapi-core's Request protocol, with the path pattern already matched."""

    def __init__(
        self,
        op: Operation,
        path: str,
        path_params: Mapping[str, str],
        query: ImmutableMultiDict[str, str],
        headers: Mapping[str, str],
        body: Any,
        content_type: str,
    ) -> None:
        self.host_url = op.host_url
        self.path = path
        self.path_pattern = op.template
        self.method = op.method
        # A large upload arrives as the blocks it was received in: the binary body's schema
        # (a string, format binary) constrains its type and presence, never its bytes, so its
        # first block is validated rather than a joined copy of the whole asset.
        self.body = (body if isinstance(body, bytes) else _first_block(body)) or None
        self.content_type = content_type.lower()
        self.parameters = RequestParameters(
            path=dict(path_params),
            query=query,
            header=Headers(dict(headers)),
            cookie=ImmutableMultiDict(),
        )


def _first_block(body: Any) -> bytes:
    blocks: tuple[bytes | memoryview, ...] = body.blocks
    return bytes(blocks[0]) if blocks else b""


class _Response:
    def __init__(
        self, status: int, content_type: str, data: bytes, headers: Mapping[str, str]
    ) -> None:
        self.status_code = status
        self.content_type = content_type.lower()
        self.data = data or None
        self.headers = Headers(dict(headers))


class Spec:
    """The subset, its operations in matching order, and a shared validator."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.app = OpenAPI.from_dict(document)
        self._lock = threading.Lock()  # openapi-core makes no thread-safety promise
        default_host = document["servers"][0]["url"]
        ops: list[Operation] = []
        for template, item in document["paths"].items():
            pattern = "^" + re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
            regex = re.compile(pattern)
            for method in METHODS:
                if method not in item:
                    continue
                op = item[method]
                servers = op.get("servers") or item.get("servers")
                parameters = [
                    _deref(document, p)
                    for p in [*item.get("parameters", []), *op.get("parameters", [])]
                ]
                ops.append(
                    Operation(
                        op_id=op["operationId"],
                        method=method,
                        template=template,
                        regex=regex,
                        host_url=servers[0]["url"] if servers else default_host,
                        responses=frozenset(op["responses"]),
                        required_query=frozenset(
                            p["name"]
                            for p in parameters
                            if p["in"] == "query" and p.get("required")
                        ),
                    )
                )
        # Fewer variables first: /releases/latest before /releases/{release_id}.
        ops.sort(key=lambda o: (o.template.count("{"), -len(o.template)))
        self.operations = ops
        self.by_id = {o.op_id: o for o in ops}
        self._examples: dict[tuple[str, int | None], Any] = {}

    # -- lookup ---------------------------------------------------------------------------

    def find(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        method = method.lower()
        for op in self.operations:
            if op.method != method:
                continue
            m = op.regex.match(path)
            if m:
                return op, m.groupdict()
        return None

    def example(self, op_id: str, status: int | None = None) -> Any:
        """A deep copy of the first example of the operation's (first 2xx) JSON response."""
        return copy.deepcopy(self._example(op_id, status))

    def component_example(self, name: str) -> Any:
        return copy.deepcopy(self.document["components"]["examples"][name]["value"])

    def _example(self, op_id: str, status: int | None) -> Any:
        key = (op_id, status)
        if key not in self._examples:
            self._examples[key] = self._find_example(op_id, status)
        return self._examples[key]

    def _find_example(self, op_id: str, status: int | None) -> Any:
        op = self.by_id[op_id]
        responses = self.document["paths"][op.template][op.method]["responses"]
        code = str(status) if status else next(c for c in responses if c.startswith("2"))
        response = _deref(self.document, responses[code])
        content = response["content"]["application/json"]
        example = next(iter(content["examples"].values()))
        return _deref(self.document, example)["value"]

    # -- validation -----------------------------------------------------------------------

    def validate_request(
        self,
        op: Operation,
        path: str,
        path_params: Mapping[str, str],
        query: ImmutableMultiDict[str, str],
        headers: Mapping[str, str],
        body: Any,
        content_type: str,
    ) -> list[str]:
        request = _Request(op, path, path_params, query, headers, body, content_type)
        with self._lock:
            return [describe(e) for e in self.app.iter_request_errors(request)]

    def validate_response(
        self,
        op: Operation,
        path: str,
        path_params: Mapping[str, str],
        query: ImmutableMultiDict[str, str],
        status: int,
        content_type: str,
        data: bytes,
        headers: Mapping[str, str],
    ) -> list[str]:
        request = _Request(op, path, path_params, query, {}, b"", "")
        response = _Response(status, content_type, data, headers)
        with self._lock:
            return [describe(e) for e in self.app.iter_response_errors(request, response)]

    def validate_not_found(self, data: bytes) -> list[str]:
        """Errors of a body against the spec's shared not-found answer (GitHub's basic-error)."""
        import jsonschema

        response = self.document["components"]["responses"]["not_found"]
        schema = _deref(self.document, response["content"]["application/json"]["schema"])
        try:
            body = json.loads(data)
        except ValueError as exc:
            return [f"not JSON: {exc}"]
        return [
            f"{e.message} at {e.json_path}"
            for e in jsonschema.Draft4Validator(schema).iter_errors(body)
        ]


def node_ref_of(node: dict[str, Any]) -> str:
    ref = node["$ref"]
    assert isinstance(ref, str)
    return ref


def node_ref_parts(ref: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")]


def _deref(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node_ref_parts(node_ref_of(node)):
            target = target[part]
        node = target
    return node


def describe(error: BaseException) -> str:
    """One readable line for an openapi-core error, with the schema errors' locations."""
    cause = error.__cause__
    schema_errors = getattr(cause, "schema_errors", None) or getattr(error, "schema_errors", None)
    if schema_errors:
        parts = [f"{_short(e.message, e.instance)} at {e.json_path}" for e in schema_errors]
        text = f"{type(error).__name__}: " + "; ".join(parts)
    elif cause is not None:
        text = f"{type(error).__name__}: {cause}"
    else:
        text = f"{type(error).__name__}: {error}"
    text = " ".join(text.split())
    return text if len(text) <= 400 else text[:397] + "..."


def _short(message: str, instance: Any) -> str:
    """jsonschema puts the whole offending value in its message; keep it short."""
    text = repr(instance)
    if len(text) > 60 and text in message:
        message = message.replace(
            text, text[:40] + "…}" if text.startswith("{") else text[:40] + "…"
        )
    return message


_spec: Spec | None = None
_spec_lock = threading.Lock()


def allow_null_in_nullable_enums(node: Any) -> int:
    """Add None to the enum of every `nullable: true` schema that has one; return the count.

    OpenAPI 3.0 says `nullable: true` allows null; openapi-schema-validator applies `enum` on
    its own, so null fails `enum` unless listed. GitHub's description relies on the former
    reading (check runs in progress have `conclusion: null`, open issues `state_reason: null`),
    so the loaded copy lists null explicitly. The committed subset stays as GitHub wrote it.
    """
    changed = 0
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            enum = item.get("enum")
            if item.get("nullable") is True and isinstance(enum, list) and None not in enum:
                enum.append(None)
                changed += 1
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return changed


def load_spec() -> Spec:
    """The process-wide Spec (built on first use, ~0.2 s)."""
    global _spec
    with _spec_lock:
        if _spec is None:
            document = json.loads(SUBSET.read_text(encoding="utf-8"))
            allow_null_in_nullable_enums(document)
            _spec = Spec(document)
        return _spec
