"""`rcflow init`: what a repository holds, and the files that set rcflow up for it.

Pure apart from reading the repository it inspects (its files and `git config`): nothing here
writes, prints or prompts. `plan_init` returns the files to write with whether each exists and is
already identical, so the caller can refuse to overwrite, write, or say that all is done.

Templates are Jinja2 (`StrictUndefined`: a missing value is an error, never an empty string).
They come from the installed package (the wheel ships ``templates/`` as ``rcflow/templates``), or
from the source checkout, and a repository may override one with
``<root>/.rcflow/templates/<name>``. Inside a template, ``{{ expr("inputs.step") }}`` writes the
GitHub Actions expression ``${{ inputs.step }}``, and ``actions.<name>`` is a pinned action.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import json
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jinja2

from rcflow import __version__, config, proc
from rcflow.adapters.github import github_repo
from rcflow.errors import ConfigError, UsageError, VersionFileError
from rcflow.versionfiles import VersionFileKind, detect_kind, read_refs

# Third-party actions, pinned by full commit sha; the comment names the release it is.
PINNED_ACTIONS: Mapping[str, str] = {
    "checkout": "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2",
    "setup_python": "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065 # v5.6.0",
    "upload_artifact": "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2",
}

CONFIG_TEMPLATE = "rcflow.toml.j2"
RELEASE_TEMPLATE = "release.yml.j2"
VALIDATE_TEMPLATE = "rcflow-validate.yml.j2"
RELEASE_WORKFLOW = ".github/workflows/release.yml"
VALIDATE_WORKFLOW = ".github/workflows/rcflow-validate.yml"
OVERRIDE_DIR = ".rcflow/templates"

FORGES = ("local", "github")
DEFAULT_TEST_COMMAND = "pytest -q"

# Conservative on purpose: whatever lands in a workflow or a TOML comment is one plain word.
_TAG_PREFIX = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9._/-]*)?")
_BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/+-]*")
_PACKAGE_VERSION = re.compile(r"[0-9][0-9A-Za-z.+!-]*")
_PYTHON_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+-]*")
_TEMPLATE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_VALIDATION_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_COMMAND_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # YAML and TOML take \n and \t
_SKIP_DIRS = frozenset({"tests", "test", "docs", "build", "dist", "node_modules", "venv"})


@dataclass(frozen=True)
class InitOptions:
    forge: str | None = None  # None: "github" when origin is on github.com, else "local"
    branch: str | None = None  # None: the remote's default branch, else the current one, "main"
    tag_prefix: str = "v"
    # (name, command); empty: a "tests" validation (pytest -q) when the repository has tests.
    validate: tuple[tuple[str, str], ...] = ()
    rcflow_version: str = __version__  # the version the release workflow installs
    python_version: str = "3.12"


@dataclass(frozen=True)
class FileToWrite:
    path: str  # relative, posix separators
    content: str
    exists: bool  # a file is already there
    same: bool  # ...with exactly this content


@dataclass(frozen=True)
class _Setup:
    """Everything the templates say, resolved from what was found and the options."""

    forge: str
    branch: str
    tag_prefix: str
    validations: tuple[tuple[str, str], ...]
    config_source: str | None  # an existing configuration, which init leaves alone


# -- detection -----------------------------------------------------------------------------------


def detect(root: Path) -> dict[str, Any]:
    """What `rcflow init` finds in the repository at ``root``.

    Keys: ``version_files`` (each ``path``, ``kind``, ``key``, ``version``: every file holding a
    readable version, the auto-detected order first), ``origin_url`` (credentials removed) or None,
    ``github_repo`` (``owner/repo``) or None, ``default_branch``, ``current_branch`` or None,
    ``is_git``, ``has_tests``, ``config`` (where an existing configuration is, or None),
    ``configured`` (its ``tag_prefix``, ``branch`` and ``forge``; None without one or when it is
    invalid), ``install_command`` (what the validation workflow installs first, or "").
    """
    git = _git_facts(root)
    origin = git["origin_url"]
    source = _config_source(root)
    configured: dict[str, Any] | None = None
    if source is not None:
        try:
            existing = config.load_config(root)
        except ConfigError:
            configured = None
        else:
            configured = {
                "tag_prefix": existing.tag_prefix,
                "branch": existing.branch,
                "forge": existing.forge,
            }
    return {
        "version_files": _version_files(root),
        "origin_url": _redact(origin) if origin else None,
        "github_repo": github_repo(origin) if origin else None,
        "default_branch": git["remote_head"] or git["current_branch"] or "main",
        "current_branch": git["current_branch"],
        "is_git": git["is_git"],
        "has_tests": _has_tests(root),
        "config": source,
        "configured": configured,
        "install_command": _install_command(root),
    }


def _redact(url: str) -> str:
    """The URL without a user name or token (``https://TOKEN@github.com/...``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "://" not in url or "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _git_facts(root: Path) -> dict[str, Any]:
    calls = [
        proc.Call(("git", "-C", str(root), "rev-parse", "--git-dir")),
        proc.Call(("git", "-C", str(root), "config", "--get", "remote.origin.url")),
        proc.Call(("git", "-C", str(root), "symbolic-ref", "--quiet", "refs/remotes/origin/HEAD")),
        proc.Call(("git", "-C", str(root), "symbolic-ref", "--quiet", "--short", "HEAD")),
    ]
    try:
        is_git, origin, remote_head, head = proc.run_parallel(calls)
    except OSError:  # no git on PATH: nothing to learn from it
        return {"is_git": False, "origin_url": None, "remote_head": None, "current_branch": None}
    default = remote_head.stdout.strip() if remote_head.ok else ""
    prefix = "refs/remotes/origin/"
    return {
        "is_git": is_git.ok,
        "origin_url": (origin.stdout.strip() or None) if origin.ok else None,
        "remote_head": default[len(prefix) :] if default.startswith(prefix) else None,
        "current_branch": (head.stdout.strip() or None) if head.ok else None,
    }


def _version_files(root: Path) -> list[dict[str, str]]:
    candidates = [name for name in config.AUTO_DETECT if (root / name).is_file()]
    packages: list[str] = []
    for base in (root, root / "src"):
        if not base.is_dir():
            continue
        for init in sorted(base.glob("*/__init__.py")):
            parent = init.parent.name
            if parent.startswith((".", "_")) or parent in _SKIP_DIRS:
                continue
            packages.append(init.relative_to(root).as_posix())
    found: list[dict[str, str]] = []
    for path in candidates + packages:
        kind = detect_kind(path)
        if kind is None:
            continue
        try:
            text = (root / path).read_bytes().decode("utf-8")
            if kind is VersionFileKind.PYTHON and "__version__" not in text:
                continue
            refs = read_refs(kind, path, text)
        except (VersionFileError, OSError, UnicodeDecodeError):
            continue  # a dynamic version, a private package.json...: not a version file
        if refs:
            keys = ", ".join(ref.key for ref in refs)
            found.append({"path": path, "kind": kind.value, "key": keys, "version": refs[0].value})
    return found


def _load_pyproject(root: Path) -> dict[str, Any] | None:
    path = root / config.PYPROJECT
    if not path.is_file():
        return None
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
        return None


def _has_tests(root: Path) -> bool:
    if (root / "tests").is_dir() or any(
        (root / name).is_file() for name in ("pytest.ini", "conftest.py")
    ):
        return True
    pyproject = _load_pyproject(root) or {}
    tool = pyproject.get("tool")
    if isinstance(tool, dict) and "pytest" in tool:
        return True
    for name, section in (("tox.ini", "[pytest]"), ("setup.cfg", "[tool:pytest]")):
        try:
            if section in (root / name).read_text(encoding="utf-8", errors="replace"):
                return True
        except OSError:
            continue
    return False


def _config_source(root: Path) -> str | None:
    if (root / config.CONFIG_FILE).is_file():
        return config.CONFIG_FILE
    tool = (_load_pyproject(root) or {}).get("tool")
    if isinstance(tool, dict) and "rcflow" in tool:
        return f"{config.PYPROJECT} [tool.rcflow]"
    return None


def _install_command(root: Path) -> str:
    """How a validation job installs the project: ``.`` with a test or dev extra, or ""."""
    pyproject = _load_pyproject(root)
    if pyproject is None:
        return "python -m pip install ." if (root / "setup.py").is_file() else ""
    project = pyproject.get("project")
    if not isinstance(project, dict) and "build-system" not in pyproject:
        return ""  # not an installable project (a tool-only pyproject.toml)
    extras = project.get("optional-dependencies") if isinstance(project, dict) else None
    names = extras if isinstance(extras, dict) else {}
    extra = next((name for name in ("test", "tests", "dev") if name in names), None)
    return f'python -m pip install ".[{extra}]"' if extra else "python -m pip install ."


# -- rendering -----------------------------------------------------------------------------------


def _template_dirs(root: Path | None) -> list[Traversable | Path]:
    dirs: list[Traversable | Path] = []
    if root is not None:
        dirs.append(root / OVERRIDE_DIR)
    with contextlib.suppress(ModuleNotFoundError, NotADirectoryError):  # an odd installation
        dirs.append(importlib.resources.files("rcflow") / "templates")
    dirs.append(Path(__file__).resolve().parent.parent / "templates")
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


def _yaml_str(value: object) -> str:
    """A YAML double-quoted scalar: a JSON string is one."""
    return json.dumps(str(value), ensure_ascii=False)


def _comment(value: object) -> str:
    """Text safe inside a one-line comment."""
    return _CONTROL.sub("?", str(value))


def _expr(expression: str) -> str:
    """The GitHub Actions expression ``${{ expression }}``."""
    return "${{ " + expression + " }}"


def render(name: str, context: Mapping[str, Any], *, root: Path | None = None) -> str:
    """Render the template ``name``; with ``root``, ``<root>/.rcflow/templates/<name>`` wins.

    Raises `UsageError` when the template does not exist or uses a value ``context`` lacks.
    """
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


# -- the plan ------------------------------------------------------------------------------------


def _setup(root: Path, found: Mapping[str, Any], options: InitOptions) -> _Setup:
    """The settings init writes, checked; an existing configuration is the authority."""
    existing: config.Config | None = None
    source = found.get("config")
    if source is not None:
        existing = config.load_config(root)  # ConfigError: fix it before generating workflows

    forge = options.forge or (existing.forge if existing else None)
    if forge is None:
        forge = "github" if found.get("github_repo") else "local"
    if forge not in FORGES:
        raise UsageError(f"--forge {forge!r}: choose one of {', '.join(FORGES)}")

    branch = options.branch or (existing.branch if existing else None) or found["default_branch"]
    if not _BRANCH.fullmatch(branch) or ".." in branch or branch.endswith(("/", ".lock", ".")):
        raise UsageError(
            f"--branch {branch!r} is not a branch name rcflow can write into a workflow"
        )

    tag_prefix = existing.tag_prefix if existing else options.tag_prefix
    if not _TAG_PREFIX.fullmatch(tag_prefix) or ".." in tag_prefix:
        raise UsageError(
            f"tag prefix {tag_prefix!r}: use letters, digits and . _ / - (or nothing) in a prefix"
        )

    if options.validate:
        validations = tuple(options.validate)
    elif existing is not None:
        # The workflow runs the commands; workflow and checks validations run on GitHub already.
        validations = tuple((v.name, v.run) for v in existing.validations if v.kind == "command")
    elif found.get("has_tests"):
        validations = (("tests", DEFAULT_TEST_COMMAND),)
    else:
        validations = ()
    seen: set[str] = set()
    for name, command in validations:
        if not _VALIDATION_NAME.fullmatch(name) or name in seen:
            raise UsageError(f"validation name {name!r}: unique, letters, digits, _ . - only")
        seen.add(name)
        if not command.strip() or _COMMAND_CONTROL.search(command) or "${{" in command:
            raise UsageError(
                f"validation {name!r}: the command must be a non-empty shell command, without "
                "control characters (other than newlines and tabs) or GitHub expressions (${{ }})"
            )

    if not _PACKAGE_VERSION.fullmatch(options.rcflow_version):
        raise UsageError(f"rcflow version {options.rcflow_version!r} is not a version")
    if not _PYTHON_VERSION.fullmatch(options.python_version):
        raise UsageError(f"python version {options.python_version!r} is not a version")
    return _Setup(
        forge=forge,
        branch=branch,
        tag_prefix=tag_prefix,
        validations=validations,
        config_source=source,
    )


def _validation_install(found: Mapping[str, Any], validations: Sequence[tuple[str, str]]) -> str:
    """What the workflows install before the validations run: the project, and pytest if used."""
    if not validations:
        return ""
    command: str = found.get("install_command") or ""
    if any(re.search(r"\bpytest\b", run) for _name, run in validations):
        command = f"{command} pytest" if command else "python -m pip install pytest"
    return command


def _context(found: Mapping[str, Any], options: InitOptions, setup: _Setup) -> dict[str, Any]:
    files: Sequence[Mapping[str, str]] = found.get("version_files", ())
    primary = files[0]["version"] if files else None
    return {
        "rcflow_version": options.rcflow_version,
        "python_version": options.python_version,
        "forge": setup.forge,
        "github_repo": found.get("github_repo") or "",
        "branch": setup.branch,
        "tag_prefix": setup.tag_prefix,
        "version_files": [f for f in files if f["version"] == primary],
        "other_version_files": [f for f in files if f["version"] != primary],
        "validations": [{"name": name, "run": run} for name, run in setup.validations],
        "install_command": _validation_install(found, setup.validations),
        "actions": dict(PINNED_ACTIONS),
    }


def _file(root: Path, path: str, content: str) -> FileToWrite:
    target = root / PurePosixPath(path)
    exists = target.exists()
    same = False
    if exists and target.is_file():
        try:
            same = target.read_bytes() == content.encode("utf-8")
        except OSError:
            same = False
    return FileToWrite(path=path, content=content, exists=exists, same=same)


def plan_init(root: Path, options: InitOptions) -> list[FileToWrite]:
    """The files `rcflow init` writes: ``rcflow.toml`` (unless a configuration exists already),
    ``.github/workflows/release.yml`` and ``.github/workflows/rcflow-validate.yml``.

    Raises `UsageError` for an option that cannot be written safely, `ConfigError` when an existing
    configuration is invalid.
    """
    found = detect(root)
    setup = _setup(root, found, options)
    context = _context(found, options, setup)
    files: list[FileToWrite] = []
    if setup.config_source is None:
        files.append(_file(root, config.CONFIG_FILE, render(CONFIG_TEMPLATE, context, root=root)))
    files.append(_file(root, RELEASE_WORKFLOW, render(RELEASE_TEMPLATE, context, root=root)))
    files.append(_file(root, VALIDATE_WORKFLOW, render(VALIDATE_TEMPLATE, context, root=root)))
    return files


def next_steps(found: Mapping[str, Any], options: InitOptions) -> list[str]:
    """Short lines on what to do after the files are written: settings, then how to run it."""
    configured: Mapping[str, Any] = found.get("configured") or {}
    forge = options.forge or configured.get("forge")
    if forge is None:
        forge = "github" if found.get("github_repo") else "local"
    branch = options.branch or configured.get("branch") or found.get("default_branch") or "main"
    prefix = configured.get("tag_prefix", options.tag_prefix)
    files = f"{RELEASE_WORKFLOW} and {VALIDATE_WORKFLOW}"
    if not found.get("config"):
        files = f"{config.CONFIG_FILE}, {files}"
    default = found.get("default_branch") or branch
    lines = [f"Commit {files} and push them to {branch}."]
    if default != branch:
        lines[0] += (
            f" Put the workflows on {default} too: GitHub dispatches only workflows that are on "
            "the default branch (then pick the branch with --ref)."
        )
    if not found.get("github_repo"):
        lines.append(
            "origin is not a github.com repository: the workflows run once the repository is on "
            "GitHub; until then run rcflow locally (rcflow status)."
        )
    lines += [
        "No secret is needed: the release job uses its own GITHUB_TOKEN and declares "
        "`permissions: contents: write` itself, so Settings → Actions → General → Workflow "
        "permissions can stay at 'Read repository contents and packages permissions'.",
        f"If {branch} is protected (a branch rule or ruleset requiring pull requests or checks), "
        "add GitHub Actions to its bypass list so `bump` can push the version commit, or run "
        "`rcflow bump` locally; a tag ruleset on "
        f"'{prefix}*' must allow GitHub Actions to create tags the same way.",
        "Tags pushed with GITHUB_TOKEN do not start other workflows (GitHub's rule against "
        "recursive runs): run rcflow-validate.yml by dispatch, as rcflow does, not on: push: tags.",
    ]
    if forge == "github":
        lines.append(
            "GitHub releases are published with the same token (contents: write); no setting "
            "has to allow it."
        )
    lines += [
        f"Try it: gh workflow run release.yml --ref {branch} -f step=status",
        f"Then: gh workflow run release.yml --ref {branch} -f step=bump -f version=minor "
        "(a dry run; read the plan in the log or the rcflow-* artifact, then run it again with "
        "-f dry_run=false)",
        f"Validate a candidate in CI: gh workflow run rcflow-validate.yml --ref {branch} "
        f"-f tag={prefix}1.4.0-rc.1",
    ]
    return lines


__all__ = [
    "PINNED_ACTIONS",
    "FileToWrite",
    "InitOptions",
    "detect",
    "github_repo",
    "next_steps",
    "plan_init",
    "render",
]
