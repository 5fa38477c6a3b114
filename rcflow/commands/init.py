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

import json
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from rcflow import __version__
from rcflow.errors import ConfigError, UsageError, VersionFileError
from rcflow.lazy_re import lazy
from rcflow.model import config
from rcflow.model.remotes import github_repo
from rcflow.model.version_text import VersionFileKind, detect_kind, read_refs
from rcflow.ports import proc
from rcflow.ports.templates import render
from rcflow.ports.templates import source as template_source

# Third-party actions, pinned by full commit sha; the comment names the release it is.
PINNED_ACTIONS: Mapping[str, str] = {
    "checkout": "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2",
    "setup_python": "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065 # v5.6.0",
    "upload_artifact": "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2",
    "setup_go": "actions/setup-go@d35c59abb061a4a6fb18e82ac0862c26744d6ab5 # v5.5.0",
    "setup_node": "actions/setup-node@49933ea5288caeca8642d1e84afbd3f7d6820020 # v4.4.0",
}

CONFIG_TEMPLATE = "rcflow.toml.j2"
RELEASE_TEMPLATE = "release.yml.j2"
VALIDATE_TEMPLATE = "rcflow-validate.yml.j2"
DOCTOR_TEMPLATE = "rcflow-doctor.yml.j2"
WORKFLOW_DIR = ".github/workflows"
RELEASE_WORKFLOW = ".github/workflows/release.yml"
# Where the release workflow goes when the project has a release.yml of its own.
OWN_RELEASE_WORKFLOW = ".github/workflows/rcflow-release.yml"
VALIDATE_WORKFLOW = ".github/workflows/rcflow-validate.yml"
# The weekly `rcflow doctor` run that watches the pipeline between releases.
DOCTOR_WORKFLOW = ".github/workflows/rcflow-doctor.yml"
# Every file init writes starts with a line that says so; a file without it is the project's.
GENERATED_MARKER = "written by `rcflow init`"

FORGES = ("local", "github")
DEFAULT_TEST_COMMAND = "pytest -q"

# Conservative on purpose: whatever lands in a workflow or a TOML comment is one plain word.
_TAG_PREFIX = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9._/-]*)?")
_BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/+-]*")
_PACKAGE_VERSION = re.compile(r"[0-9][0-9A-Za-z.+!-]*")
_PYTHON_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+-]*")
_VALIDATION_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_WORKFLOW_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\.ya?ml")
_COMMAND_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # YAML and TOML take \n and \t
_SKIP_DIRS = frozenset({"tests", "test", "docs", "build", "dist", "node_modules", "venv"})


@dataclass(frozen=True)
class InitOptions:
    forge: str | None = None  # None: "github" when origin is on github.com, else "local"
    branch: str | None = None  # None: the remote's default branch, else the current one, "main"
    tag_prefix: str | None = None  # None: what the existing tags use, else "v"
    # (name, command); empty: a "tests" validation (pytest -q) when the repository has tests.
    validate: tuple[tuple[str, str], ...] = ()
    rcflow_version: str = __version__  # the version the release workflow installs
    python_version: str = "3.12"
    # The release workflow's file name; None: release.yml, or rcflow-release.yml when the project
    # has a release.yml of its own (init never touches a workflow it did not write).
    workflow_name: str | None = None
    workflows: bool = True  # False: write the configuration only
    setup: str = ""  # a shell command the validation workflow runs first (the toolchain)
    # rcflow's action (OWNER/rcflow@SHA) the workflows use; None: the configured one, if any.
    action: str | None = None
    # What the workflows pip-install when there is no action; None: configured, or the running
    # rcflow pinned where it was installed from (`running_rcflow`).
    rcflow_requirement: str | None = None


@dataclass(frozen=True)
class FileToWrite:
    path: str  # relative, posix separators
    content: str
    exists: bool  # a file is already there
    same: bool  # ...with exactly this content
    ours: bool = False  # ...written by an earlier `rcflow init`: updating it is safe
    diff: tuple[str, ...] = ()  # how the file there differs from this content (changed lines)


@dataclass(frozen=True)
class _Setup:
    """Everything the templates say, resolved from what was found and the options."""

    forge: str
    branch: str
    tag_prefix: str
    validations: tuple[tuple[str, str], ...]
    config_source: str | None  # an existing configuration, which init leaves alone
    action: str = ""  # rcflow's action pinned by sha, or "": install the requirement
    requirement: str = ""
    notify_issue: bool = False  # [notify] issue: the doctor workflow keeps the alert issue


# -- detection -----------------------------------------------------------------------------------


def detect(root: Path, *, workflows_only: bool = False) -> dict[str, Any]:
    """What `rcflow init` finds in the repository at ``root``.

    ``workflows_only``: with a configuration, leave out what only a new configuration is written
    from (version files, pins, the release tags): init never rewrites an existing one, so its
    workflows do not depend on them, and doctor's drift check does not walk the tree for them.

    Keys: ``version_files`` (each ``path``, ``kind``, ``key``, ``version``: every file holding a
    readable version, the auto-detected order first), ``origin_url`` (credentials removed) or None,
    ``github_repo`` (``owner/repo``) or None, ``default_branch``, ``current_branch`` or None,
    ``is_git``, ``has_tests``, ``config`` (where an existing configuration is, or None),
    ``configured`` (its ``tag_prefix``, ``branch``, ``forge``, ``action`` and
    ``rcflow_requirement``; None without one or when it is invalid), ``install_command`` (what
    the validation workflow installs first, or ""), ``rcflow_itself`` (rcflow's own repository).
    """
    source = _config_source(root)
    light = workflows_only and source is not None
    git = _git_facts(root, tags=not light)
    tags = _tag_facts(git.get("tags", ()))
    origin = git["origin_url"]
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
                "trusted_publishing": bool(
                    existing.python_package and existing.python_package.trusted_publishing
                ),
                "action": existing.action,
                "rcflow_requirement": existing.rcflow_requirement,
            }
    wanted = {tags["last_release"]} if tags["last_release"] else set()
    files = [] if light else _version_files(root)
    if files and not wanted:
        wanted = {_bare(files[0]["version"])}  # no release yet: the root file's version
    repo_name = (github_repo(origin) or "").rpartition("/")[2] if origin else ""
    if not repo_name:
        repo_name = root.resolve().name
    nested, pins = _pinned(root, wanted, {f["path"] for f in files}, repo_name)
    return {
        "version_files": files + nested,
        "pins": pins,
        "tag_prefix": tags["tag_prefix"],
        "tag_count": tags["count"],
        "last_release": tags["last_release"],
        "toolchains": _toolchains(root),
        "own_workflows": _own_workflows(root),
        "origin_url": _redact(origin) if origin else None,
        "github_repo": github_repo(origin) if origin else None,
        "default_branch": git["remote_head"] or git["current_branch"] or "main",
        "current_branch": git["current_branch"],
        "is_git": git["is_git"],
        "has_tests": _has_tests(root),
        "config": source,
        "configured": configured,
        "install_command": _install_command(root),
        "release_workflow": release_workflow_path(root),
        "rcflow_itself": is_rcflow_itself(root),
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


def _git_facts(root: Path, *, tags: bool = True) -> dict[str, Any]:
    calls = [
        proc.Call(("git", "-C", str(root), "rev-parse", "--git-dir")),
        proc.Call(("git", "-C", str(root), "config", "--get", "remote.origin.url")),
        proc.Call(("git", "-C", str(root), "symbolic-ref", "--quiet", "refs/remotes/origin/HEAD")),
        proc.Call(("git", "-C", str(root), "symbolic-ref", "--quiet", "--short", "HEAD")),
    ]
    if tags:
        calls.append(proc.Call(("git", "-C", str(root), "tag", "--list")))
    try:
        is_git, origin, remote_head, head, *listed = proc.run_parallel(calls)
    except OSError:  # no git on PATH: nothing to learn from it
        return {"is_git": False, "origin_url": None, "remote_head": None, "current_branch": None}
    default = remote_head.stdout.strip() if remote_head.ok else ""
    prefix = "refs/remotes/origin/"
    return {
        "is_git": is_git.ok,
        "origin_url": (origin.stdout.strip() or None) if origin.ok else None,
        "remote_head": default[len(prefix) :] if default.startswith(prefix) else None,
        "current_branch": (head.stdout.strip() or None) if head.ok else None,
        "tags": tuple(listed[0].stdout.split()) if listed and listed[0].ok else (),
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
    # A root VERSION file and Go `Version = "..."` files: the pattern kind, with the pattern init
    # writes. A leading `v` stays outside the version group, so it is kept as written.
    plain = _pattern_file(root, "VERSION", _VERSION_FILE_PATTERN, "VERSION")
    if plain is not None:
        found.append(plain)
    for path in _walk(root, lambda name: name.endswith(".go") and not name.endswith("_test.go")):
        go = _pattern_file(root, path, _GO_VERSION_PATTERN, "Version")
        if go is not None:
            found.append(go)
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

    if existing is not None:
        tag_prefix = existing.tag_prefix
    elif options.tag_prefix is not None:
        tag_prefix = options.tag_prefix
    else:
        detected = found.get("tag_prefix")
        tag_prefix = detected if detected is not None else "v"
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
        validations = (("tests", _test_command(root)),)
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

    if options.setup and (_COMMAND_CONTROL.search(options.setup) or "${{" in options.setup):
        raise UsageError(
            "--setup: a shell command without control characters or GitHub expressions (${{ }})"
        )
    if options.workflow_name is not None and (
        not _WORKFLOW_NAME.fullmatch(options.workflow_name)
        or options.workflow_name
        in (VALIDATE_WORKFLOW.rsplit("/", 1)[1], DOCTOR_WORKFLOW.rsplit("/", 1)[1])
    ):
        raise UsageError(
            f"--workflow-name {options.workflow_name!r}: a file name such as rcflow-release.yml "
            "(letters, digits, . _ -, ending in .yml or .yaml; not rcflow-validate.yml or "
            "rcflow-doctor.yml)"
        )
    if not _PACKAGE_VERSION.fullmatch(options.rcflow_version):
        raise UsageError(f"rcflow version {options.rcflow_version!r} is not a version")
    if not _PYTHON_VERSION.fullmatch(options.python_version):
        raise UsageError(f"python version {options.python_version!r} is not a version")
    action, requirement = _rcflow_source(root, options, existing)
    return _Setup(
        forge=forge,
        branch=branch,
        tag_prefix=tag_prefix,
        validations=validations,
        config_source=source,
        action=action,
        requirement=requirement,
        # The alert issue lives on GitHub: with another forge `doctor --alert` is refused.
        notify_issue=existing is not None and existing.notify_issue and forge == "github",
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
    wanted = {_bare(primary)} if primary else set()
    if found.get("last_release"):
        wanted.add(found["last_release"])
    chosen = [f for f in files if f["version"] == primary or _bare(f["version"]) in wanted]
    toolchains = list(found.get("toolchains") or ())
    if "python" not in toolchains and any(
        re.search(r"\b(?:pytest|python3?|pip)\b", run) for _name, run in setup.validations
    ):
        toolchains.insert(0, "python")
    return {
        "workflow_name": _release_path(found, options).rsplit("/", 1)[1],
        "toolchains": toolchains,
        "setup": options.setup,
        "pins": list(found.get("pins") or ()),
        "last_release": found.get("last_release") or "",
        "rcflow_version": options.rcflow_version,
        "python_version": options.python_version,
        "forge": setup.forge,
        "github_repo": found.get("github_repo") or "",
        "branch": setup.branch,
        "tag_prefix": setup.tag_prefix,
        "version_files": chosen,
        "other_version_files": [f for f in files if f not in chosen],
        "validations": [{"name": name, "run": run} for name, run in setup.validations],
        "install_command": _validation_install(found, setup.validations),
        "actions": dict(PINNED_ACTIONS),
        "action": setup.action,
        "rcflow_requirement": setup.requirement,
        "notify_issue": setup.notify_issue,
        "config_action": options.action or "",
        "config_requirement": options.rcflow_requirement or "",
        "trusted_publishing": bool((found.get("configured") or {}).get("trusted_publishing")),
    }


# A workflow's first line carries its fingerprint: of what it was generated from (the template's
# text and the values it names, rcflow's version among them) and of what was generated. A file
# whose fingerprint matches both is the file init would write now, known without jinja2
# (importing it and compiling three templates were half of doctor's time on an adopted repository).
_CONFIG_ONLY = frozenset(
    {
        "version_files",
        "other_version_files",
        "pins",
        "last_release",
        "github_repo",
        "config_action",
        "config_requirement",
    }
)
_UNSET = "fingerprint " + "0" * 24  # rendered in, then replaced by the fingerprint
_FINGERPRINT = lazy(r"fingerprint ([0-9a-f]{12})([0-9a-f]{12})")
_JINJA_TAG = lazy(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


def _workflow(root: Path, path: str, template: str, context: Mapping[str, Any]) -> FileToWrite:
    """`_file` of a workflow init renders from ``template``, fingerprinted."""
    import hashlib

    def digest(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]

    text = template_source(template, root=root) or ""
    # Only the values the template names in its tags: a template reads a value by naming it
    # there (these include no other template), so a value only another workflow reads
    # changes this one's fingerprint no more than its text.
    tags = " ".join(_JINJA_TAG.findall(text))
    named = {k: v for k, v in context.items() if re.search(rf"\b{re.escape(k)}\b", tags)}
    inputs = digest(json.dumps([template, text, named], sort_keys=True, default=str))
    target = root / PurePosixPath(path)
    try:
        current: str | None = target.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        current = None
    if current is not None:
        first = current.partition("\n")[0]
        found = _FINGERPRINT.search(first)
        if (
            found is not None
            and GENERATED_MARKER in first
            and found.group(1) == inputs
            and digest(current.replace(found.group(0), _UNSET, 1)) == found.group(2)
        ):
            return FileToWrite(path=path, content=current, exists=True, same=True, ours=True)
    rendered = render(template, {**context, "fingerprint": _UNSET}, root=root)
    if _UNSET in rendered.partition("\n")[0]:  # a project's own template may have none
        rendered = rendered.replace(_UNSET, f"fingerprint {inputs}{digest(rendered)}", 1)
    return _file(root, path, rendered, key=_unprinted)


def _unprinted(text: str) -> str:
    """The text with its first line's fingerprint, if any, as it was rendered."""
    first, newline, rest = text.partition("\n")
    return _FINGERPRINT.sub(_UNSET, first, count=1) + newline + rest


def _file(root: Path, path: str, content: str, *, key: Callable[[str], str] = str) -> FileToWrite:
    """What writing content at path would do; `key`: what of a text is compared (a workflow's
    fingerprint is not: the same workflow with another fingerprint is the same)."""
    target = root / PurePosixPath(path)
    exists = target.exists()
    same = False
    ours = False
    diff: tuple[str, ...] = ()
    if exists and target.is_file():
        try:
            current = target.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            current = None
        if current is not None:
            same = key(current) == key(content)
            ours = GENERATED_MARKER in current.partition("\n")[0]
            diff = () if same else _differences(key(current), key(content))
            if same:
                content = current  # kept as it is
    return FileToWrite(path=path, content=content, exists=exists, same=same, ours=ours, diff=diff)


def _release_path(found: Mapping[str, Any], options: InitOptions) -> str:
    """release.yml, unless the project has its own release.yml: then rcflow-release.yml."""
    if options.workflow_name:
        return f"{WORKFLOW_DIR}/{options.workflow_name}"
    own = found.get("own_workflows") or ()
    return OWN_RELEASE_WORKFLOW if RELEASE_WORKFLOW in own else RELEASE_WORKFLOW


def release_workflow_path(root: Path) -> str | None:
    """The release workflow an earlier `rcflow init` wrote here, if any."""
    for path in (RELEASE_WORKFLOW, OWN_RELEASE_WORKFLOW):
        if _generated(root / path):
            return path
    directory = root / WORKFLOW_DIR
    if directory.is_dir():
        for candidate in sorted(directory.iterdir()):
            rel = f"{WORKFLOW_DIR}/{candidate.name}"
            if (
                rel not in (VALIDATE_WORKFLOW, DOCTOR_WORKFLOW)
                and candidate.is_file()
                and _generated(candidate)
            ):
                return rel
    return None


def plan_init(
    root: Path, options: InitOptions, *, found: Mapping[str, Any] | None = None
) -> list[FileToWrite]:
    """The files `rcflow init` writes: ``rcflow.toml`` (unless a configuration exists already),
    ``.github/workflows/release.yml`` and ``.github/workflows/rcflow-validate.yml``.

    Raises `UsageError` for an option that cannot be written safely, `ConfigError` when an existing
    configuration is invalid.
    """
    if found is None:
        found = detect(root)
    if options.workflow_name is None and found.get("config"):
        # A re-run updates the release workflow it wrote before, wherever that is.
        earlier = release_workflow_path(root)
        if earlier is not None:
            options = replace(options, workflow_name=earlier.rsplit("/", 1)[1])
    if not options.setup:
        # The --setup of an earlier init lives in the workflow it wrote, not in the config.
        options = replace(options, setup=_earlier_setup(root))
    setup = _setup(root, found, options)
    context = _context(found, options, setup)
    files: list[FileToWrite] = []
    if setup.config_source is None:
        files.append(_file(root, config.CONFIG_FILE, render(CONFIG_TEMPLATE, context, root=root)))
    if options.workflows:
        release = f"{WORKFLOW_DIR}/{context['workflow_name']}"
        # The workflows are rendered without what only a new configuration is written from
        # (a workflow that used it would fail to render): doctor, which detects none of it,
        # renders and fingerprints them from the same values.
        workflow = {k: v for k, v in context.items() if k not in _CONFIG_ONLY}
        files.append(_workflow(root, release, RELEASE_TEMPLATE, workflow))
        files.append(_workflow(root, VALIDATE_WORKFLOW, VALIDATE_TEMPLATE, workflow))
        files.append(_workflow(root, DOCTOR_WORKFLOW, DOCTOR_TEMPLATE, workflow))
    return files


def next_steps(found: Mapping[str, Any], options: InitOptions) -> list[str]:
    """Short lines on what to do after the files are written: settings, then how to run it."""
    configured: Mapping[str, Any] = found.get("configured") or {}
    forge = options.forge or configured.get("forge")
    if forge is None:
        forge = "github" if found.get("github_repo") else "local"
    branch = options.branch or configured.get("branch") or found.get("default_branch") or "main"
    detected = found.get("tag_prefix")
    fallback = options.tag_prefix if options.tag_prefix is not None else detected
    prefix = configured.get("tag_prefix", fallback if fallback is not None else "v")
    if found.get("config") and options.workflow_name is None:
        earlier = found.get("release_workflow")
        if earlier:
            options = replace(options, workflow_name=earlier.rsplit("/", 1)[1])
    release = _release_path(found, options)
    workflow = release.rsplit("/", 1)[1]
    files = f"{release}, {VALIDATE_WORKFLOW} and {DOCTOR_WORKFLOW}"
    if not found.get("config"):
        files = f"{config.CONFIG_FILE}, {files}" if options.workflows else config.CONFIG_FILE
    default = found.get("default_branch") or branch
    lines = [f"Commit {files} and push them to {branch}."]
    if release != RELEASE_WORKFLOW and RELEASE_WORKFLOW in (found.get("own_workflows") or ()):
        lines.append(
            f"{RELEASE_WORKFLOW} is the project's own and was left alone; rcflow's release "
            f"workflow is {release}."
        )
    if not found.get("config") and found.get("tag_count"):
        lines.append(
            f"{found['tag_count']} existing release tag(s) use the prefix {prefix!r}"
            + (f"; the last release is {found['last_release']}." if found["last_release"] else ".")
        )
    for pin in found.get("pins") or ():
        lines.append(
            f"{pin['path']} pins the last release ({pin['key']}): to move it with every release, "
            f"uncomment its [[version_file]] in {config.CONFIG_FILE}."
        )
    if not options.workflows:
        return lines
    if note := rcflow_source_note(found, options):
        lines.append(note)
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
        f"Try it: gh workflow run {workflow} --ref {branch} -f step=status",
        f"Then: gh workflow run {workflow} --ref {branch} -f step=bump -f version=minor "
        "(a dry run; read the plan in the log or the rcflow-* artifact, then run it again with "
        "-f dry_run=false)",
        f"Validate a candidate in CI: gh workflow run rcflow-validate.yml --ref {branch} "
        f"-f tag={prefix}1.4.0-rc.1",
        "rcflow-doctor.yml runs `rcflow doctor` every Monday (now: gh workflow run "
        "rcflow-doctor.yml); with [notify] issue = true it keeps one issue open while it finds "
        "an error.",
    ]
    return lines


__all__ = [
    "GENERATED_MARKER",
    "PINNED_ACTIONS",
    "FileToWrite",
    "InitOptions",
    "detect",
    "github_repo",
    "next_steps",
    "plan_init",
    "render",
]


# -- fitting into an existing repository (issue 12) ---------------------------------------------

_FINAL_TAG = re.compile(
    r"(?P<prefix>.*?)(?P<version>(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*)){1,2})"
)
_VERSION_FILE_PATTERN = r"^v?(?P<version>[0-9][0-9A-Za-z.+-]*)[ \t]*$"
_GO_VERSION_PATTERN = (
    r"^[ \t]*(?:(?:const|var)[ \t]+)?Version[ \t]*(?:string[ \t]*)?=[ \t]*"
    r'"v?(?P<version>[0-9][^"]*)"'
)
_APP_VERSION_PATTERN = r"""^appVersion:[ \t]*["']?v?(?P<version>[0-9][^"'\s]*)"""
_WALK_SKIP = frozenset(
    {"node_modules", "vendor", "venv", "testdata", "third_party", "tests", "test", "docs"}
)
_DIGIT_OR_DOT = (".", *"0123456789")
_WALK_LIMIT = 20000  # files looked at; a monorepo is searched this far and no further
_NESTED_KINDS = ("pyproject.toml", "package.json", "Cargo.toml", "Chart.yaml")


def _bare(value: str) -> str:
    return value[1:] if value[:1] in ("v", "V") and value[1:2].isdigit() else value


def _tag_facts(tags: Sequence[str]) -> dict[str, Any]:
    """The prefix most release tags use ("" for `25.1`, "v" for `v1.4.0`) and the newest one.

    Only final tags count (`v1.4.0`, `25.1`), never RCs or other names; None when there is none.
    """
    counts: dict[str, int] = {}
    versions: dict[str, list[tuple[int, ...]]] = {}
    for tag in tags:
        m = _FINAL_TAG.fullmatch(tag)
        # `v1.2.3.4` is no release tag with the prefix "v1.": a prefix ends in no digit or dot.
        prefix = m.group("prefix") if m is not None else "-"
        if m is None or not _TAG_PREFIX.fullmatch(prefix) or prefix.endswith(_DIGIT_OR_DOT):
            continue
        counts[prefix] = counts.get(prefix, 0) + 1
        parts = tuple(int(p) for p in m.group("version").split("."))
        if len(parts) == 3:
            versions.setdefault(prefix, []).append(parts)
    if not counts:
        return {"tag_prefix": None, "count": 0, "last_release": None}
    prefix = max(counts, key=lambda p: (counts[p], p == "v"))
    newest = max(versions.get(prefix, []), default=None)
    return {
        "tag_prefix": prefix,
        "count": counts[prefix],
        "last_release": ".".join(map(str, newest)) if newest else None,
    }


def _walk(root: Path, wanted: Callable[[str], bool]) -> list[str]:
    """Files under root whose name `wanted` takes, skipping hidden and vendored directories."""
    import os

    found: list[str] = []
    seen = 0
    for directory, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _WALK_SKIP)
        for name in sorted(names):
            seen += 1
            if seen > _WALK_LIMIT:
                return found
            if wanted(name):
                found.append((Path(directory) / name).relative_to(root).as_posix())
    return found


def _read_text(root: Path, path: str) -> str | None:
    try:
        target = root / path
        if target.stat().st_size > 1_000_000:
            return None
        return target.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _pattern_file(root: Path, path: str, pattern: str, key: str) -> dict[str, str] | None:
    """A pattern version file when exactly one reference matches, else None."""
    text = _read_text(root, path)
    if text is None:
        return None
    try:
        refs = read_refs(VersionFileKind.PATTERN, path, text, pattern)
    except VersionFileError:
        return None
    if len(refs) != 1:
        return None
    return {
        "path": path,
        "kind": VersionFileKind.PATTERN.value,
        "key": key,
        "version": refs[0].value,
        "pattern": pattern,
    }


def _pinned(
    root: Path, wanted: set[str], known: set[str], project: str = ""
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Where the last release's version is pinned beyond the root files.

    Returns (version files of known kinds: a nested pyproject.toml, package.json, Cargo.toml or
    chart, all of whose references hold it; pins rcflow can move with a pattern but init only
    proposes: a kustomize `newTag` or a Helm values `tag:` of an image at that version).
    """
    files: list[dict[str, str]] = []
    pins: list[dict[str, str]] = []
    if not wanted:
        return files, pins
    names = {*_NESTED_KINDS, "kustomization.yaml", "kustomization.yml"}
    values_file = re.compile(r"values[\w.-]*\.ya?ml")
    for path in _walk(root, lambda n: n in names or bool(values_file.fullmatch(n))):
        if path in known:
            continue
        text = _read_text(root, path)
        if text is None:
            continue
        name = path.rsplit("/", 1)[-1]
        kind = detect_kind(path)
        if kind is not None:
            try:
                refs = read_refs(kind, path, text)
            except VersionFileError:
                continue
            values = {_bare(r.value) for r in refs}
            if refs and values <= wanted:
                keys = ", ".join(r.key for r in refs)
                files.append(
                    {"path": path, "kind": kind.value, "key": keys, "version": refs[0].value}
                )
            elif kind is VersionFileKind.HELM_CHART:
                app = _pattern_file(root, path, _APP_VERSION_PATTERN, "appVersion")
                if app is not None and _bare(app["version"]) in wanted:
                    files.append(app)
        elif name.startswith("kustomization"):
            pins += _image_pins(root, path, text, wanted, "name", "newTag", "kustomize newTag")
        else:
            pins += _image_pins(root, path, text, wanted, "repository", "tag", "Helm values tag")
    # The project's own images, when their names tell (`ghcr.io/acme/<project>`); a third-party
    # image that happens to share the version number is then left out.
    own = [p for p in pins if project and project.lower() in p["key"].lower()]
    return files, own or pins


def _image_pins(
    root: Path, path: str, text: str, wanted: set[str], name_key: str, tag_key: str, what: str
) -> list[dict[str, str]]:
    """Images in a YAML file whose tag holds the version, each as a pattern on that image."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    images: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            tag, name = node.get(tag_key), node.get(name_key)
            if isinstance(name, str) and tag is not None and _bare(str(tag)) in wanted:
                images.append(name)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    visit(data)
    pins: list[dict[str, str]] = []
    for image in dict.fromkeys(images):
        # The tag line that follows this image's name line within the same mapping.
        pattern = (
            rf"^([ \t]*)(?:-[ \t]+)?{name_key}:[ \t]*[\"']?{re.escape(image)}[\"']?[ \t]*\n"
            rf"(?:\1[ \t]*[^\s-][^\n]*\n)*?[ \t]*{tag_key}:[ \t]*[\"']?v?"
            r"(?P<version>[0-9][^\"'\s]*)"
        )
        pin = _pattern_file(root, path, pattern, f"{what} of {image}")
        if pin is not None:
            pins.append(pin)
    return pins


def _test_command(root: Path) -> str:
    """The project's own test runner: a Go module's `tests/` dir is no reason to run pytest."""
    toolchains = _toolchains(root)
    if "python" in toolchains or not toolchains:
        return DEFAULT_TEST_COMMAND
    return "go test ./..." if toolchains[0] == "go" else "npm test"


def _toolchains(root: Path) -> list[str]:
    """The toolchains a validation job sets up: python, go, node (in that order)."""
    found: list[str] = []
    if any((root / n).is_file() for n in ("pyproject.toml", "setup.py", "setup.cfg")):
        found.append("python")
    if (root / "go.mod").is_file():
        found.append("go")
    if (root / "package.json").is_file():
        found.append("node")
    return found


def _own_workflows(root: Path) -> list[str]:
    """The workflow files the project wrote itself (no `rcflow init` marker)."""
    directory = root / WORKFLOW_DIR
    if not directory.is_dir():
        return []
    own: list[str] = []
    for path in sorted(directory.iterdir()):
        if path.suffix in (".yml", ".yaml") and path.is_file() and not _generated(path):
            own.append(f"{WORKFLOW_DIR}/{path.name}")
    return own


def _generated(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return GENERATED_MARKER in handle.readline()
    except OSError:
        return False


_SETUP_STEP = "      - name: Set up the toolchain\n        run: |\n"


def _earlier_setup(root: Path) -> str:
    """The setup command an earlier `rcflow init --setup` wrote into the validation workflow."""
    path = root / VALIDATE_WORKFLOW
    if not _generated(path):
        return ""
    text = _read_text(root, VALIDATE_WORKFLOW) or ""
    _, found, rest = text.partition(_SETUP_STEP)
    if not found:
        return ""
    lines: list[str] = []
    for line in rest.splitlines():
        if line.strip() and not line.startswith(" " * 10):
            break
        lines.append(line[10:])
    return "\n".join(lines).strip()


def _differences(old: str, new: str) -> tuple[str, ...]:
    """The changed lines, as `-old` / `+new`, at most a dozen."""
    import difflib

    lines = [
        line.rstrip("\n")
        for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    return tuple(lines[:12]) + ((f"… and {len(lines) - 12} more",) if len(lines) > 12 else ())


def _rcflow_source(
    root: Path, options: InitOptions, existing: config.Config | None
) -> tuple[str, str]:
    """(the action, or ""; the pip requirement) the workflows get rcflow from.

    An option wins over the configuration; without either, rcflow's own repository runs the
    action of its checkout (`uses: ./`), and any other the rcflow that runs init, pinned where it
    was installed from (`running_rcflow`).
    """
    action = options.action or (existing.action if existing is not None else None) or ""
    if action and (problem := config.action_problem(action)):
        raise UsageError(f"--action: {problem}")
    requirement = options.rcflow_requirement or (
        existing.rcflow_requirement if existing is not None else None
    )
    if requirement is not None and (problem := config.requirement_problem(requirement)):
        raise UsageError(f"--rcflow-requirement: {problem}")
    if not action and requirement is None and is_rcflow_itself(root):
        action = LOCAL_ACTION
    if requirement is None:
        requirement = running_rcflow(options.rcflow_version).requirement
    return action, requirement.strip()


# -- where the workflows get rcflow from when nothing says (issue 16) ----------------------------

# rcflow's own repository runs the action at its root: the repository is rcflow, so the release
# is made by the rcflow of the very commit the workflow runs on, and no index is involved.
LOCAL_ACTION = "./"


def is_rcflow_itself(root: Path) -> bool:
    """The repository is rcflow's own source: its pyproject names rcflow and the action is here."""
    project = (_load_pyproject(root) or {}).get("project")
    return (
        isinstance(project, dict)
        and project.get("name") == "rcflow"
        and (root / "action.yml").is_file()
    )


@dataclass(frozen=True)
class RunningRcflow:
    """The rcflow that runs init, and what a runner installs to get the same one."""

    requirement: str
    # "vcs": a git URL at the exact commit; "index": installed from a package index, which has
    # this version; "local": installed from a path (a checkout, a wheel file) no runner can reach.
    source: str
    where: str = ""  # the URL or path it was installed from


def _direct_url() -> dict[str, Any] | None:
    """PEP 610's direct_url.json of the installed rcflow, or None (installed from an index).

    ``{}`` when rcflow is not installed at all (run from a source tree).
    """
    dist_info = _dist_info()
    if dist_info is not None:
        try:
            text: str | None = (dist_info / "direct_url.json").read_text(encoding="utf-8")
        except FileNotFoundError:
            text = None
        except (OSError, UnicodeDecodeError):
            return {}
    else:  # an egg, a zip, no installation: importlib.metadata knows them all
        import importlib.metadata

        try:
            text = importlib.metadata.distribution("rcflow").read_text("direct_url.json")
        except importlib.metadata.PackageNotFoundError:
            return {}
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _dist_info() -> Path | None:
    """The installed rcflow's `.dist-info` directory, found as importlib.metadata finds it (in
    the first entry of sys.path that has one) without importing it, an import doctor's drift
    check paid on every run. None when an entry holds two (a broken installation) or none
    holds one: importlib.metadata decides then."""
    import os
    import sys

    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as found:
                names = [e.name for e in found if _is_our_dist_info(e.name)]
        except OSError:  # a zip, a missing directory
            continue
        if names:
            return Path(entry or ".", names[0]) if len(names) == 1 else None
    return None


def _is_our_dist_info(name: str) -> bool:
    """`rcflow-<version>.dist-info` (a wheel escapes a name's `-`: `rcflow_x-1.0.dist-info` is
    another distribution's, and so is `rcflow-x-1.0.dist-info` of an older installer)."""
    if not (name[:7].lower() == "rcflow-" and name.endswith(".dist-info")):
        return False
    version = name[7 : -len(".dist-info")]
    return version[:1].isdigit() and "-" not in version


def running_rcflow(version: str = __version__) -> RunningRcflow:
    """Where the rcflow that runs init came from, as a pinned requirement a runner can install.

    Installed from git (`pip install git+https://…@SHA`): that URL at that commit. Installed
    from a git checkout (`pip install -e .`) whose commit is on its origin: origin's https URL
    at that commit. From an index: `rcflow==version`. Otherwise (a wheel file, a checkout with
    no https origin or an unpushed commit) `rcflow==version` too, marked "local": no runner can
    reach what was installed, and init says so.
    """
    fallback = f"rcflow=={version}"
    direct = _direct_url()
    if direct is None:
        return RunningRcflow(fallback, "index")
    url = str(direct.get("url") or "")
    vcs = direct.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("vcs") == "git":
        pinned = _vcs_requirement(url, str(vcs.get("commit_id") or ""))
        if pinned is not None:
            return RunningRcflow(pinned, "vcs", _redact(url))
    dir_info = direct.get("dir_info")
    if isinstance(dir_info, dict) and url.startswith("file://"):
        from urllib.parse import unquote

        checkout = Path(unquote(urlsplit(url).path))
        at_commit = _checkout_requirement(checkout)
        if at_commit is not None:
            return RunningRcflow(at_commit[0], "vcs", at_commit[1])
        return RunningRcflow(fallback, "local", str(checkout))
    return RunningRcflow(fallback, "local", _redact(url) if url else "a source tree")


def _vcs_requirement(url: str, commit: str) -> str | None:
    """`rcflow @ git+URL@COMMIT` for an https URL and a full sha, else None (ssh needs a key)."""
    url = _redact(url).removeprefix("git+")
    if not url.startswith("https://") or not re.fullmatch(r"[0-9a-f]{40}", commit):
        return None
    requirement = f"rcflow @ git+{url}@{commit}"
    return None if config.requirement_problem(requirement) else requirement


def _checkout_requirement(checkout: Path) -> tuple[str, str] | None:
    """(requirement, URL) for the checkout's HEAD when origin, over https, has that commit."""
    calls = [
        proc.Call(("git", "-C", str(checkout), "config", "--get", "remote.origin.url")),
        proc.Call(("git", "-C", str(checkout), "rev-parse", "--verify", "--quiet", "HEAD")),
        proc.Call(
            (
                "git",
                "-C",
                str(checkout),
                "for-each-ref",
                "--contains=HEAD",
                "--format=%(refname)",
                "refs/remotes/origin/",
            )
        ),
    ]
    try:
        origin, head, remote = proc.run_parallel(calls)
    except OSError:
        return None
    if not (origin.ok and head.ok and remote.ok and remote.stdout.strip()):
        return None  # no origin, or HEAD is on no branch origin had when it was last fetched
    url = origin.stdout.strip()
    repo = github_repo(url)
    if not url.startswith("https://") and repo:
        url = f"https://github.com/{repo}"  # git@github.com:OWNER/REPO: the same, over https
    pinned = _vcs_requirement(url, head.stdout.strip())
    return (pinned, _redact(url)) if pinned is not None else None


def rcflow_source_note(found: Mapping[str, Any], options: InitOptions) -> str | None:
    """What next_steps says about how the workflows get rcflow, when nothing configures it."""
    configured: Mapping[str, Any] = found.get("configured") or {}
    if options.action or options.rcflow_requirement:
        return None
    if configured.get("action") or configured.get("rcflow_requirement"):
        return None
    if found.get("rcflow_itself"):
        return (
            "This is rcflow's own repository: the workflows run rcflow from their checkout "
            "(uses: ./), so the release is made by the rcflow of the commit it runs on."
        )
    running = running_rcflow(options.rcflow_version)
    if running.source == "vcs":
        return (
            f"The workflows install this rcflow from {running.where} at its commit "
            f"({running.requirement}); --action OWNER/rcflow@SHA uses the action instead."
        )
    if running.source == "local":
        return (
            f"This rcflow was installed from {running.where}, which no runner can reach: the "
            f"workflows install {running.requirement} from the runner's package index. If no "
            "index has it, run init again with --action OWNER/rcflow@SHA or --rcflow-requirement "
            "'rcflow @ git+https://github.com/OWNER/rcflow@SHA' (a full commit sha)."
        )
    return None


def config_source(root: Path) -> str | None:
    """Where the repository's configuration is (`detect`'s ``config``), without the rest of
    `detect`'s scan."""
    return _config_source(root)
