"""Version files: find every version reference in a file's text and rewrite it (pure, no I/O).

Nothing here touches the file system: callers read a file (decode the bytes, or open it with
``newline=""``, so that CRLF line endings reach this module intact), call `read_refs` or `update`,
and write the result back.

Every reference is located as a span of the original text, and `update` replaces only those spans,
so comments, quoting style, indentation, key order and line endings survive byte for byte. Parsers
(tomlkit, json, tokenize) are used to *find* a reference, never to re-render a file.
"""

from __future__ import annotations

import io
import json
import re
import token
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from rcflow.errors import VersionFileError
from rcflow.lazy_re import lazy
from rcflow.record import dataclass

if TYPE_CHECKING:
    from tokenize import TokenInfo

    import tomlkit


class VersionFileKind(StrEnum):
    PYPROJECT = "pyproject"  # [project].version or [tool.poetry].version
    PACKAGE_JSON = "package.json"
    CARGO = "cargo"  # [package].version (or [workspace.package].version)
    PYTHON = "python"  # __version__ = "..."
    HELM_CHART = "helm"  # Chart.yaml version + appVersion
    PATTERN = "pattern"  # a regex with a named group `version`


_KIND_BY_NAME = {
    "pyproject.toml": VersionFileKind.PYPROJECT,
    "package.json": VersionFileKind.PACKAGE_JSON,
    "Cargo.toml": VersionFileKind.CARGO,
    "Chart.yaml": VersionFileKind.HELM_CHART,
    "Chart.yml": VersionFileKind.HELM_CHART,
}

# Anything written into a file must be a single token that needs no quoting or escaping in any of
# the supported formats (TOML basic/literal strings, JSON, YAML plain scalars, Python literals).
# Every spelling rcflow renders (1.4.0-rc.1, 1.4.0rc1, v1.4.0-rc.1, 1!2.0+local.7) fits.
_SAFE_VALUE = lazy(r"[A-Za-z0-9][A-Za-z0-9._+!~-]*")


def detect_kind(path: str) -> VersionFileKind | None:
    """The kind implied by a file's name, or None when the file needs a configured pattern."""
    name = PurePosixPath(path.replace("\\", "/")).name
    kind = _KIND_BY_NAME.get(name)
    if kind is None and name.endswith(".py"):
        return VersionFileKind.PYTHON
    return kind


@dataclass(frozen=True)
class VersionRef:
    """One version reference in a file.

    ``key`` says where it is (``[project].version``, ``version``, ``__version__``, ``appVersion``,
    ``pattern``, ``pattern#2``...), ``line`` is the 1-based line of the value and ``value`` is the
    text exactly as written, without its quotes.
    """

    key: str
    line: int
    value: str


@dataclass(frozen=True)
class _Span:
    """A reference plus the half-open character range of its value in the text."""

    ref: VersionRef
    start: int
    end: int


def read_refs(
    kind: VersionFileKind, path: str, content: str, pattern: str | None = None
) -> list[VersionRef]:
    """Every version reference in ``content``, in file order.

    ``path`` is used only in messages. ``pattern`` is required for `VersionFileKind.PATTERN` and
    ignored otherwise. Raises `VersionFileError` when the file holds no version reference, or when
    it cannot be parsed.
    """
    return [span.ref for span in _locate(kind, path, content, pattern)]


def update(
    kind: VersionFileKind,
    path: str,
    content: str,
    values: Mapping[str, str],
    pattern: str | None = None,
) -> str:
    """``content`` with the references named in ``values`` (key -> new text) rewritten.

    Only the value text of those references changes; every other byte stays as it was. Raises
    `VersionFileError` for a key the file does not have, for a value that is not a plain version
    token, and when the rewritten file would not read back the values written (for example a
    pattern too narrow to match the new spelling).
    """
    spans = _locate(kind, path, content, pattern)
    by_key = {span.ref.key: span for span in spans}
    for key, value in values.items():
        if key not in by_key:
            found = ", ".join(by_key) or "nothing"
            raise VersionFileError(f"{path}: no {key} to update (found: {found})")
        if not _SAFE_VALUE.fullmatch(value):
            raise VersionFileError(f"{path}: {key}: refusing to write {value!r}, not a version")
    chosen = sorted((by_key[key] for key in values), key=lambda span: span.start, reverse=True)
    new = content
    for span in chosen:
        new = new[: span.start] + values[span.ref.key] + new[span.end :]
    if new == content:
        return content
    # Re-reading is cheap and catches what span arithmetic cannot: a pattern that no longer
    # matches its own output, or a rewrite that shifted which reference a key names.
    try:
        reread = {ref.key: ref.value for ref in read_refs(kind, path, new, pattern)}
    except VersionFileError:
        reread = {}
    hint = "; widen the pattern" if kind is VersionFileKind.PATTERN else ""
    for key, value in values.items():
        got = reread.get(key)
        if got is None:
            raise VersionFileError(
                f"{path}: {key} would not be found after writing {value!r}{hint}"
            )
        if got != value:
            raise VersionFileError(
                f"{path}: {key} would read back as {got!r} after writing {value!r}{hint}"
            )
    return new


def _locate(kind: VersionFileKind, path: str, content: str, pattern: str | None) -> list[_Span]:
    if kind is VersionFileKind.PYPROJECT:
        return _pyproject(path, content)
    if kind is VersionFileKind.CARGO:
        return _cargo(path, content)
    if kind is VersionFileKind.PACKAGE_JSON:
        return _package_json(path, content)
    if kind is VersionFileKind.PYTHON:
        return _python(path, content)
    if kind is VersionFileKind.HELM_CHART:
        return _helm_chart(path, content)
    if pattern is None:
        raise VersionFileError(f"{path}: kind 'pattern' needs a pattern")
    return _pattern(path, content, pattern)


def _line_of(content: str, offset: int) -> int:
    return content.count("\n", 0, offset) + 1


def _span(content: str, key: str, start: int, end: int) -> _Span:
    return _Span(VersionRef(key, _line_of(content, start), content[start:end]), start, end)


# --- TOML -----------------------------------------------------------------------------------------

_SENTINEL = "rcflow-locate-0f3c9a"


# The plain layout almost every project has: a `[table]` header, then `version = "..."` on a
# line of its own. Found with the stdlib parser (already loaded to read the config) and a scan,
# it spares `rcflow status` the import of tomlkit; anything else takes the tomlkit path.
_TOML_HEADER = lazy(r"^[ \t]*(\[\[?)[ \t]*([A-Za-z0-9_.-]+)[ \t]*\]\]?[ \t]*(?:#.*)?\r?$", re.M)
_TOML_VERSION = lazy(
    r"^[ \t]*version[ \t]*=[ \t]*(?P<q>[\"'])(?P<v>[^\"'\\\r\n]*)(?P=q)[ \t]*(?:#.*)?\r?$", re.M
)


def _plain_toml_spans(
    content: str, wanted: Sequence[tuple[tuple[str, ...], str]]
) -> list[_Span] | None:
    """The spans of each wanted `table.version`, or None when the layout is not the plain one.

    Every value the real parser reads must be matched by exactly one `version = "..."` line under
    that very table's header, with the same text; multi-line strings (which could hide look-alike
    lines) are not attempted.
    """
    import tomllib

    if '"""' in content or "'''" in content:
        return None
    try:
        data = tomllib.loads(content)
    except tomllib.TOMLDecodeError:
        return None  # the full path reports it, with tomlkit's message
    headers = [(m.start(), m.group(1) + m.group(2)) for m in _TOML_HEADER.finditer(content)]
    under: dict[str, list[re.Match[str]]] = {}
    for m in _TOML_VERSION.finditer(content):
        table = next((name for start, name in reversed(headers) if start < m.start()), "")
        under.setdefault(table, []).append(m)
    spans = []
    for keys, label in wanted:
        node: Any = data
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        value = node.get("version") if isinstance(node, dict) else None
        if value is None:
            continue
        matches = under.get("[" + ".".join(keys), [])
        if not isinstance(value, str) or len(matches) != 1 or matches[0].group("v") != value:
            return None
        spans.append(_span(content, label, matches[0].start("v"), matches[0].end("v")))
    return sorted(spans, key=lambda span: span.start) if spans else None


def _parse_toml(path: str, content: str) -> tomlkit.TOMLDocument:
    import tomlkit
    import tomlkit.exceptions

    try:
        return tomlkit.parse(content)
    except tomlkit.exceptions.TOMLKitError as exc:
        raise VersionFileError(f"{path}: not valid TOML: {exc}") from exc


def _toml_get(doc: tomlkit.TOMLDocument, keys: Sequence[str]) -> Any:
    """The table at keys, or None (also when something else, an array of tables, is there)."""
    node: Any = doc
    for key in keys:
        if not hasattr(node, "get"):
            return None
        node = node.get(key)
        if node is None:
            return None
    return node if hasattr(node, "get") else None


def _toml_span(path: str, content: str, table: Sequence[str], label: str) -> _Span:
    """Locate ``table``.version (a string) in the original text.

    tomlkit keeps no source offsets, but it re-renders an untouched prefix byte for byte: replacing
    the value with a sentinel and finding the sentinel in the rendering gives the offset of the
    value in the original, wherever and however the key is written (dotted keys, inline tables,
    out-of-order tables). A table named the same elsewhere, or a `version` key in another table or
    a dependency spec, is a different tomlkit item and cannot be hit.
    """
    import tomlkit.items

    doc = _parse_toml(path, content)
    container = _toml_get(doc, table)
    old = container.get("version") if container is not None else None
    if not isinstance(old, tomlkit.items.String):
        raise VersionFileError(f"{path}: {label} is not a string")
    raw = old.as_string()
    if old.type not in (tomlkit.items.StringType.SLB, tomlkit.items.StringType.SLL):
        raise VersionFileError(f"{path}: {label} is a multi-line string; use a one-line string")
    sentinel = _SENTINEL
    while sentinel in content:
        sentinel += "x"
    container["version"] = sentinel
    rendered = doc.as_string()
    quote_at = rendered.find(sentinel) - 1
    if (
        quote_at < 0
        or rendered[:quote_at] != content[:quote_at]
        or not content.startswith(raw, quote_at)
    ):
        raise VersionFileError(f"{path}: cannot locate {label} in the text")
    return _span(content, label, quote_at + 1, quote_at + len(raw) - 1)


def _pyproject(path: str, content: str) -> list[_Span]:
    plain = _plain_toml_spans(
        content,
        [(("project",), "[project].version"), (("tool", "poetry"), "[tool.poetry].version")],
    )
    if plain is not None:
        return plain
    doc = _parse_toml(path, content)
    spans: list[_Span] = []
    project = _toml_get(doc, ["project"])
    if project is not None and project.get("version") is not None:
        spans.append(_toml_span(path, content, ["project"], "[project].version"))
    poetry = _toml_get(doc, ["tool", "poetry"])
    if poetry is not None and poetry.get("version") is not None:
        spans.append(_toml_span(path, content, ["tool", "poetry"], "[tool.poetry].version"))
    if spans:
        return sorted(spans, key=lambda span: span.start)
    dynamic = project.get("dynamic") if project is not None else None
    if isinstance(dynamic, list) and "version" in dynamic:
        raise VersionFileError(
            f"{path}: the version is dynamic; "
            "configure the file that holds it as a [[version_file]]"
        )
    raise VersionFileError(f"{path}: no version found ([project].version or [tool.poetry].version)")


def _cargo(path: str, content: str) -> list[_Span]:
    doc = _parse_toml(path, content)
    spans: list[_Span] = []
    inherited = False
    package = _toml_get(doc, ["package"])
    own = package.get("version") if package is not None else None
    if isinstance(own, Mapping):
        # `version.workspace = true`: the number lives in the workspace root's Cargo.toml.
        inherited = True
    elif own is not None:
        spans.append(_toml_span(path, content, ["package"], "[package].version"))
    workspace = _toml_get(doc, ["workspace", "package"])
    if workspace is not None and workspace.get("version") is not None:
        spans.append(
            _toml_span(path, content, ["workspace", "package"], "[workspace.package].version")
        )
    if spans:
        return sorted(spans, key=lambda span: span.start)
    if inherited:
        raise VersionFileError(
            f"{path}: [package].version is inherited (version.workspace = true); "
            "configure the workspace root's Cargo.toml instead"
        )
    raise VersionFileError(
        f"{path}: no version found ([package].version or [workspace.package].version)"
    )


# --- package.json ---------------------------------------------------------------------------------

_JSON_STRING = lazy(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def _package_json(path: str, content: str) -> list[_Span]:
    try:
        data = json.loads(content)
    except json.JSONDecodeError as exc:
        raise VersionFileError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or "version" not in data:
        raise VersionFileError(f'{path}: no version found (top-level "version")')
    if not isinstance(data["version"], str):
        raise VersionFileError(f'{path}: "version" is not a string')
    span = _json_top_level_string(content, "version")
    if span is None:
        raise VersionFileError(f'{path}: cannot locate "version" in the text')
    return [_span(content, "version", span[0], span[1])]


def _json_top_level_string(content: str, wanted: str) -> tuple[int, int] | None:
    """Span (without quotes) of the last top-level ``wanted`` string value: json.loads keeps the
    last of duplicate keys, so the span must agree with it."""
    found: tuple[int, int] | None = None
    depth = 0
    pending_key: str | None = None
    expect_key = False
    i = 0
    while i < len(content):
        char = content[i]
        if char == '"':
            match = _JSON_STRING.match(content, i)
            if match is None:
                return found
            if depth == 1 and expect_key:
                pending_key = json.loads(match.group())
                expect_key = False
            elif depth == 1 and pending_key == wanted:
                found = (match.start() + 1, match.end() - 1)
                pending_key = None
            i = match.end()
            continue
        if char in "{[":
            depth += 1
            expect_key = depth == 1 and char == "{"
        elif char in "}]":
            depth -= 1
            if depth == 1:
                pending_key = None
        elif char == "," and depth == 1:
            expect_key = True
            pending_key = None
        i += 1
    return found


# --- Python __version__ ---------------------------------------------------------------------------

_SIMPLE_LITERAL = lazy(r"""(['"])([^'"\\\r\n]*)\1""")
_SKIPPED = (token.NL, token.COMMENT, token.ENCODING)


def _python(path: str, content: str) -> list[_Span]:
    """Module-level ``__version__ = "..."`` (optionally annotated).

    tokenize rather than ast: it skips strings and comments correctly yet does not reject syntax
    newer than the running interpreter, which a project's own modules may well use.
    """
    import tokenize  # only a Python version file needs it: not on every status

    try:
        tokens = [
            tok
            for tok in tokenize.generate_tokens(io.StringIO(content, newline="\n").readline)
            if tok.type not in _SKIPPED
        ]
    except (tokenize.TokenError, SyntaxError) as exc:
        raise VersionFileError(f"{path}: cannot tokenize: {exc}") from exc
    # StringIO with newline="\n" splits lines exactly where these offsets do, CRLF included.
    line_starts = [0] + [match.end() for match in re.finditer("\n", content)]
    spans: list[_Span] = []
    depth = 0
    at_statement_start = True
    for index, tok in enumerate(tokens):
        if tok.type == token.INDENT:
            depth += 1
        elif tok.type == token.DEDENT:
            depth -= 1
        if (
            at_statement_start
            and depth == 0
            and tok.type == token.NAME
            and tok.string == "__version__"
        ):
            value = _python_value(tokens, index + 1)
            if value is not None:
                row, col = value.start
                start = line_starts[row - 1] + col + 1
                spans.append(_span(content, "__version__", start, start + len(value.string) - 2))
        at_statement_start = tok.type in (token.NEWLINE, token.INDENT, token.DEDENT)
    if not spans:
        raise VersionFileError(f'{path}: no version found (module-level __version__ = "...")')
    if len(spans) > 1:
        lines = ", ".join(str(span.ref.line) for span in spans)
        raise VersionFileError(f"{path}: __version__ is assigned more than once (lines {lines})")
    return spans


def _python_value(tokens: Sequence[TokenInfo], index: int) -> TokenInfo | None:
    """The string token of ``__version__ [: annotation] = "..."`` starting after the name."""
    if index < len(tokens) and tokens[index].string == ":":
        # Skip a simple annotation (`str`, `typing.Final[str]`) up to the `=`.
        while index < len(tokens) and tokens[index].string != "=":
            if tokens[index].type in (token.NEWLINE, token.ENDMARKER):
                return None
            index += 1
    if index + 2 >= len(tokens) or tokens[index].string != "=":
        return None
    value, after = tokens[index + 1], tokens[index + 2]
    if value.type != token.STRING or after.type not in (token.NEWLINE, token.ENDMARKER):
        return None
    if not _SIMPLE_LITERAL.fullmatch(value.string):
        return None
    return value


# --- Helm Chart.yaml ------------------------------------------------------------------------------

# Top-level keys sit at column 0; block scalars and nested mappings are indented, so a column-0
# line can only be a top-level key, a comment or a document marker.
_CHART_LINE = lazy(
    r"""^(?P<key>version|appVersion)[ \t]*:[ \t]*
    (?:(?P<q>["'])(?P<quoted>[^"'\r\n]*)(?P=q)|(?P<plain>[^\s"'#&*!|>%@`{}\[\],][^\r\n]*?))
    (?:[ \t]+\#[^\r\n]*)?[ \t]*\r?$""",
    re.MULTILINE | re.VERBOSE,
)


def _helm_chart(path: str, content: str) -> list[_Span]:
    spans: list[_Span] = []
    seen: set[str] = set()
    for match in _CHART_LINE.finditer(content):
        key = match.group("key")
        if key in seen:
            raise VersionFileError(f"{path}: {key} is set more than once")
        seen.add(key)
        group = "quoted" if match.group("q") else "plain"
        spans.append(_span(content, key, match.start(group), match.end(group)))
    if "version" not in seen:
        raise VersionFileError(f"{path}: no version found (top-level version:)")
    return spans


# --- generic pattern ------------------------------------------------------------------------------


def _pattern(path: str, content: str, pattern: str) -> list[_Span]:
    """Every match of ``pattern`` (re.MULTILINE); its ``version`` group is the value.

    ``$`` matches before ``\n`` only, so a pattern anchored at line ends needs ``\r?$`` to match
    in a file with CRLF line endings.
    """
    try:
        regex = re.compile(pattern, re.MULTILINE)
    except re.error as exc:
        raise VersionFileError(f"{path}: invalid pattern: {exc}") from exc
    if "version" not in regex.groupindex:
        raise VersionFileError(f"{path}: the pattern has no (?P<version>...) group")
    spans: list[_Span] = []
    for match in regex.finditer(content):
        if match.start("version") < 0:
            continue
        key = "pattern" if not spans else f"pattern#{len(spans) + 1}"
        spans.append(_span(content, key, match.start("version"), match.end("version")))
    if not spans:
        raise VersionFileError(f"{path}: no version found (pattern {pattern!r} matches nothing)")
    return spans
