"""Templates: rcflow's own (`templates/`, shipped in the wheel as ``rcflow/templates``) and a
project's overrides (``<root>/.rcflow/templates/<name>``), rendered by one Jinja2 environment.

`StrictUndefined`: a missing value is an error, never an empty string. Inside a template,
``{{ expr("inputs.step") }}`` writes the GitHub Actions expression ``${{ inputs.step }}``, and the
filters quote values for TOML and YAML. jinja2 is imported on first render: `status` never pays.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

from rcflow.errors import UsageError

OVERRIDE_DIR = ".rcflow/templates"

_TEMPLATE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _template_dirs(root: Path | None) -> list[Traversable | Path]:
    dirs: list[Traversable | Path] = []
    if root is not None:
        dirs.append(root / OVERRIDE_DIR)
    here = Path(__file__).resolve()
    # The wheel's rcflow/templates, then a source checkout's templates/: on a file system,
    # what importlib.resources would answer, without importing it; it is asked only when
    # neither is a directory (rcflow imported from a zip).
    shipped, source = here.parents[1] / "templates", here.parents[2] / "templates"
    if shipped.is_dir():
        dirs.append(shipped)
    elif not source.is_dir():
        import importlib.resources

        with contextlib.suppress(ModuleNotFoundError, NotADirectoryError):  # an odd installation
            dirs.append(importlib.resources.files("rcflow") / "templates")
    dirs.append(source)
    return dirs


def _loader(root: Path | None) -> Callable[[str], str | None]:
    def load(name: str) -> str | None:
        if not _TEMPLATE_NAME.fullmatch(name):
            return None
        for directory in _template_dirs(root):
            candidate = directory / name
            if candidate.is_file():
                return candidate.read_text(encoding="utf-8")
        return None

    return load


_TOML_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _toml_str(value: object) -> str:
    """A TOML basic string (escapes backslashes, quotes and control characters)."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    escaped = _CONTROL.sub(lambda m: _TOML_ESCAPES.get(m.group(), f"\\u{ord(m.group()):04x}"), text)
    return f'"{escaped}"'


def _toml_pattern(value: object) -> str:
    """A regex as a TOML literal string (backslashes as written) when it can be one."""
    text = str(value)
    if "'''" in text or text.startswith("'") or text.endswith("'") or _CONTROL.search(text):
        return _toml_str(text)
    return f"'''{text}'''" if "'" in text else f"'{text}'"


def _yaml_str(value: object) -> str:
    """A YAML double-quoted scalar: a JSON string is one."""
    return json.dumps(str(value), ensure_ascii=False)


def _comment(value: object) -> str:
    """Text safe inside a one-line comment."""
    return _CONTROL.sub("?", str(value))


def _expr(expression: str) -> str:
    """The GitHub Actions expression ``${{ expression }}``."""
    return "${{ " + expression + " }}"


def source(name: str, *, root: Path | None = None) -> str | None:
    """The text `render` would render for ``name`` (a project's override first), or None."""
    return _loader(root)(name)


def render(name: str, context: Mapping[str, Any], *, root: Path | None = None) -> str:
    """Render the template ``name``; with ``root``, ``<root>/.rcflow/templates/<name>`` wins.

    Raises `UsageError` when the template does not exist or uses a value ``context`` lacks.
    """
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_loader(root)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - renders YAML and TOML, never HTML
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["toml_str"] = _toml_str
    env.filters["yaml_str"] = _yaml_str
    env.filters["toml_pattern"] = _toml_pattern
    env.filters["comment"] = _comment
    env.globals["expr"] = _expr
    try:
        template = env.get_template(name)
        return template.render(dict(context))
    except jinja2.TemplateNotFound as exc:
        raise UsageError(f"no template named {name!r}") from exc
    except jinja2.UndefinedError as exc:
        raise UsageError(f"template {name}: {exc.message}") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise UsageError(f"template {name}, line {exc.lineno}: {exc.message}") from exc
