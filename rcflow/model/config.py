"""Configuration: ``rcflow.toml`` at the root, or ``[tool.rcflow]`` in ``pyproject.toml``.

The two places take the same keys; having both is an error, having neither means defaults. Unknown
keys and wrong types are errors, reported with the file and the key
(``rcflow.toml: validate[0].timeout: not a duration: '5 min' (use 90s, 10m, 1h)``).

Top-level keys
--------------
``tag_prefix``  (string, default ``"v"``)
    Prepended to the semver of every tag: ``v1.4.0``, ``v1.4.0-rc.1``. May be empty.
``rc_token``  (string, default ``"rc"``)
    The pre-release word in RC versions (``1.4.0-rc.1``, ``1.4.0rc1``); lowercase letters only.
``branch``  (string, default: the remote's default branch)
    The release branch.
``remote``  (string, default ``"origin"``)
    The git remote tags and the ledger are pushed to.
``forge``  (string, default: automatic)
    Where releases are published: ``"github"`` or ``"local"`` (JSON files in the git dir). By
    default ``"github"`` when the remote is a GitHub URL or ``GITHUB_REPOSITORY`` is set, else
    ``"local"``.
``github_api_url``  (string, default: ``GITHUB_API_URL`` or ``https://api.github.com``)
    The REST API of a GitHub Enterprise Server (``https://ghe.example.com/api/v3``).
``github_repository``  (string, default: from the remote's URL, else ``GITHUB_REPOSITORY``)
    The repository as ``owner/repo``.
``rc_in_files``  (boolean, default ``false``)
    Whether RC versions are written into the version files (otherwise only final versions are).
``next_version``  (string, default: none)
    After ``promote`` has released X.Y.Z, commit the next development version (X.Y+1.0) into the
    version files and push it: ``"dev"`` (PEP 440 ``1.5.0.dev0``, semver ``1.5.0-dev.0``) or the
    suffix the project uses (``".dev0"``, ``"a0"``, ``"-alpha.0"``, ``"-SNAPSHOT"``).
``changelog``  (string, default: none)
    Path of a Keep-a-Changelog file, relative to the root (e.g. ``"CHANGELOG.md"``); it need not
    exist yet.
``lease_ttl``  (duration, default ``"15m"``)
    How long a run's lease on the release lasts without renewal.
``validate_jobs``  (integer >= 1, default: all of them)
    How many ``[[validate]]`` commands run at once (``rcflow validate --jobs N`` overrides it).
    Workflow and checks validations wait on GitHub and take no slot.

``previous_names``  (array of strings, default ``[]``)
    Earlier ``owner/repo`` names of this repository (after a rename or a transfer); ``rcflow
    doctor`` reports references to them that were left behind.
``allow_references``  (array of strings, default ``[]``)
    Stale references to leave alone: an exact reference text, or an ``owner/repo`` name.

``[notify]``  (table, optional)
    ``webhook_env`` (string): the name of an environment variable holding a webhook URL; a failed
    or refused step POSTs ``{"text": ...}`` (Slack-compatible) there. The URL itself stays out of
    the repository because such URLs carry credentials. ``issue`` (boolean, default false): with
    the GitHub forge, a failing step opens (or comments on) one issue per release line, labelled
    ``rcflow``; the step's next success closes it.

``[assets]``  (table, optional)
    ``files`` (array of globs, required): files to attach to the RC's release, relative to a
    clean worktree of the RC commit (``["dist/*"]``). ``build`` (string, optional): a shell
    command run there first, with ``RCFLOW_VERSION``, ``RCFLOW_TAG`` and ``RCFLOW_PEP440`` set.
    ``timeout`` (duration, default ``"30m"``). A ``SHA256SUMS`` asset is added; ``promote``
    carries the same bytes to the final release.

``[hooks]``  (table, optional)
    ``after_promote``, ``after_rollback`` (strings): shell commands run once after that step
    succeeded (a registry publish, a yank), with ``RCFLOW_TAG``, ``RCFLOW_VERSION``,
    ``RCFLOW_PEP440`` (and ``RCFLOW_PREVIOUS_TAG`` after a rollback). ``timeout`` (duration,
    default ``"30m"``). A hook's success is recorded, so re-runs skip it.

``[[image]]``  (array of tables, default: none)
    Container images promoted by digest (see README "Artifacts").
    ``name`` (string, required): the image repository, ``[host[:port]/]path`` without a tag
    (``"ghcr.io/acme/app"``, ``"docker.io/acme/app"``, ``"registry.example.com/team/app"``).
    ``spelling`` (string, default ``"tag"``): how the image tags spell versions — ``tag``
    (``v1.4.0-rc.2``, the git tag), ``semver`` (``1.4.0-rc.2``) or ``pep440`` (``1.4.0rc2``).
    ``latest`` (boolean, default ``false``): ``promote`` also points ``latest`` at the final, and
    ``rollback`` of a release points it back at the previous final's digest.
    ``insecure`` (boolean, default ``false``): plain HTTP to this registry (loopback always is).
    At ``rc`` the image's RC tag must exist: its digest is recorded; ``promote`` tags that digest.

``[python_package]``  (table, optional)
    Publish the RC's Python dists (its ``[assets]``, byte for byte) to a package index.
    ``upload_url`` (string, default ``"https://upload.pypi.org/legacy/"``): the legacy upload API.
    ``simple_url`` (string): the simple API; default PyPI's (or TestPyPI's for its upload URL),
    required for any other index. ``username`` (string, default ``"__token__"``).
    ``password_env`` (string, default ``"RCFLOW_INDEX_PASSWORD"``): the environment variable that
    holds the password or API token. ``files`` (array of globs, default ``["*.whl",
    "*.tar.gz"]``): asset names to publish; only dists whose version is the one being released
    are. ``publish_rc`` (boolean, default ``false``): also publish at ``rc`` (dists carrying the
    RC's version). ``trusted_publishing`` (boolean, default ``false``): inside GitHub Actions
    (the job needs ``permissions: id-token: write``), exchange the job's OIDC token at the index
    for a short-lived upload token (PyPI trusted publishers) instead of a stored password; not
    with ``password_env`` or ``username``. Needs ``[assets]``.

``[preflight]``  (table, optional)
    ``waive`` (array of strings): preflight findings waived for good, each a finding id
    (``"workflow.artifact-race"``) or an id and the file it is in
    (``"workflow.artifact-name-clash@.github/workflows/fuzz.yml"``). ``rcflow doctor`` lists them;
    a step that goes ahead despite one records it in the ledger (``check_waived``).

``[[version_file]]``  (array of tables, default: auto-detected)
    ``path`` (string, required): relative to the root, must exist.
    ``kind`` (string, optional): one of ``pyproject``, ``package.json``, ``cargo``, ``python``,
    ``helm``, ``pattern``; by default detected from the file name (``pyproject.toml``,
    ``package.json``, ``Cargo.toml``, ``Chart.yaml``, ``*.py``), or ``pattern`` when a pattern is
    given.
    ``pattern`` (string, regex): required when the kind cannot be detected; must contain a named
    group ``(?P<version>...)``; compiled with ``re.MULTILINE``; every match is a reference.
    ``spelling`` (string, optional): ``semver`` (``1.4.0-rc.1``), ``pep440`` (``1.4.0rc1``) or
    ``tag`` (``v1.4.0-rc.1``); default ``pep440`` for ``pyproject`` and ``python`` files, ``semver``
    otherwise.

    Without any ``[[version_file]]``, the first of ``pyproject.toml``, ``package.json``,
    ``Cargo.toml``, ``Chart.yaml`` at the root that holds a readable version is used.

``[[validate]]``  (array of tables, default: none)
    ``name`` (string, required): unique, letters, digits, ``_``, ``.``, ``-``.
    Exactly one kind of validation:

    ``run`` (string): a shell command, run in a clean worktree of the RC commit.
    ``workflow`` (string): a GitHub Actions workflow file name (``"e2e.yml"``) dispatched on the
    RC tag with the inputs ``tag`` (the RC tag) and ``rcflow_run_id`` (a correlation id), then
    polled until it completes; it passes when the run's conclusion is ``success``.
    ``inputs`` (table of strings, ``workflow`` only): more inputs for the dispatch; ``tag`` and
    ``rcflow_run_id`` are rcflow's own.
    ``checks`` / ``statuses`` (arrays of strings): check runs (by name) and commit statuses (by
    context) required on the RC commit; waited for until each has completed, and all must
    succeed (a check may also be ``neutral`` or ``skipped``, as in branch protection).
    ``deployment`` (string): a deployment environment (``"staging"``); passes when the newest
    GitHub deployment of the RC commit to that environment has the latest status ``success``
    (``failure`` or ``error`` fails; rcflow waits while there is none yet, while it is pending,
    queued or in progress, or while it is ``inactive``, replaced by a newer deployment).
    Names are 1-255 characters, no control characters and no surrounding spaces.
    ``workflow``, ``checks``, ``statuses`` and ``deployment`` need the ``github`` forge.

    ``timeout`` (duration, default ``"30m"``): how long the command runs, or how long rcflow waits
    for the workflow run, the checks or the deployment.
    ``required`` (boolean, default ``true``): whether a failure blocks promotion.
    ``max_age`` (duration, optional): a pass older than this no longer counts for promotion
    (``"7d"``); ``rcflow validate`` runs it again.

Durations are a number of seconds or a string such as ``"90s"``, ``"10m"``, ``"1h"``, ``"1h30m"``,
``"7d"``.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, TypeVar

from rcflow.errors import ConfigError, UsageError, VersionFileError
from rcflow.lazy_re import lazy
from rcflow.model.version import Spelling, StageWord, Version, check_next_version
from rcflow.model.version import parse_tag as _parse_tag
from rcflow.model.version_text import VersionFileKind, detect_kind, read_refs
from rcflow.record import dataclass

CONFIG_FILE = "rcflow.toml"
PYPROJECT = "pyproject.toml"

# The order matters: a Python project that also ships a package.json for tooling keeps its
# version in pyproject.toml.
AUTO_DETECT = ("pyproject.toml", "package.json", "Cargo.toml", "Chart.yaml")

FORGES = ("local", "github")

MAX_DURATION = 366 * 86400.0  # seconds: the longest timeout, lease_ttl or max_age accepted

_NAME = lazy(r"[A-Za-z0-9_.-]+")
_RC_TOKEN = lazy(r"[a-z]+")
# Characters git refuses in ref names (git check-ref-format), plus whitespace.
_BAD_TAG_CHARS = lazy(r"[\s~^:?*\[\\\x00-\x1f\x7f]")
# A bare number is seconds only on its own: "1h30" would be ambiguous, so units are then required.
_DURATION = lazy(
    r"(?P<bare>\d+(?:\.\d+)?)"
    r"|(?:(?P<d>\d+(?:\.\d+)?)d)?"
    r"(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?"
)

_TOP_KEYS = frozenset(
    {
        "tag_prefix",
        "rc_token",
        "branch",
        "remote",
        "forge",
        "rc_in_files",
        "next_version",
        "changelog",
        "lease_ttl",
        "version_file",
        "validate",
        "previous_names",
        "allow_references",
        "notify",
        "github_api_url",
        "github_repository",
        "assets",
        "hooks",
        "image",
        "python_package",
        "preflight",
        "action",
        "rcflow_requirement",
        "stages",
        "stage",
        "skip_allowed",
        "release",
        "validate_jobs",
    }
)
_ASSETS_KEYS = frozenset({"files", "build", "timeout"})
_HOOKS = ("after_promote", "after_rollback")
_HOOKS_KEYS = frozenset({*_HOOKS, "timeout"})
_NOTIFY_KEYS = frozenset({"webhook_env", "issue"})
_ENV_NAME = lazy(r"[A-Za-z_][A-Za-z0-9_]*")
_OWNER_REPO = lazy(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+")
_VERSION_FILE_KEYS = frozenset({"path", "kind", "pattern", "spelling"})
_VALIDATE_KEYS = frozenset(
    {
        "name",
        "run",
        "workflow",
        "inputs",
        "checks",
        "statuses",
        "timeout",
        "required",
        "max_age",
        "stages",
        "deployment",
    }
)
# What rcflow itself passes to a dispatched workflow; GitHub takes at most 25 inputs in all.
WORKFLOW_INPUTS = ("tag", "rcflow_run_id")
_MAX_INPUTS = 25
_WORKFLOW_FILE = lazy(r"[A-Za-z0-9_.-]+\.ya?ml")
_IMAGE_KEYS = frozenset({"name", "spelling", "latest", "insecure"})
_PACKAGE_KEYS = frozenset(
    {
        "upload_url",
        "simple_url",
        "username",
        "password_env",
        "files",
        "publish_rc",
        "trusted_publishing",
    }
)
PYPI_UPLOAD = "https://upload.pypi.org/legacy/"
# The simple API of the indexes whose upload URL names it unambiguously.
KNOWN_INDEXES = {
    PYPI_UPLOAD: "https://pypi.org/simple/",
    "https://test.pypi.org/legacy/": "https://test.pypi.org/simple/",
}
_IMAGE_TAG = lazy(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_HTTP_URL = lazy(r"(?P<scheme>https?)://(?P<host>\[[^\]\s]+\]|[^\s/:]+)(?::\d+)?(/\S*)?")

T = TypeVar("T")


@dataclass(frozen=True)
class AssetsConfig:
    files: tuple[str, ...]  # globs relative to the RC worktree
    build: str | None = None
    timeout: float = 1800.0


@dataclass(frozen=True)
class HooksConfig:
    after_promote: str | None = None
    after_rollback: str | None = None
    timeout: float = 1800.0

    def command(self, hook: str) -> str | None:
        value: str | None = getattr(self, hook)
        return value


@dataclass(frozen=True)
class ImageConfig:
    """One ``[[image]]``: a repository whose RC image is promoted by digest."""

    name: str  # as configured: "ghcr.io/acme/app"
    spelling: Spelling = Spelling.TAG
    latest: bool = False
    insecure: bool = False


@dataclass(frozen=True)
class PythonPackageConfig:
    """``[python_package]``: the index the RC's dists are published to."""

    upload_url: str = PYPI_UPLOAD
    simple_url: str = "https://pypi.org/simple/"
    username: str = "__token__"
    password_env: str = "RCFLOW_INDEX_PASSWORD"  # noqa: S105 - a variable name, not a secret
    files: tuple[str, ...] = ("*.whl", "*.tar.gz")
    publish_rc: bool = False
    # Upload with a short-lived token minted from the GitHub Actions job's OIDC token.
    trusted_publishing: bool = False


@dataclass(frozen=True)
class VersionFileConfig:
    """One configured (or auto-detected) version file."""

    path: str  # relative to the repository root, posix separators
    kind: VersionFileKind
    pattern: str | None  # set exactly when kind is PATTERN
    spelling: Spelling | None  # None: the kind's default, resolved by the caller


@dataclass(frozen=True)
class ValidationConfig:
    """One ``[[validate]]`` entry: a command, a dispatched workflow, or required checks."""

    name: str
    run: str  # the command; "" for the other kinds
    timeout: float  # seconds
    required: bool = True
    kind: str = "command"  # "command" | "workflow" | "checks"
    workflow: str | None = None  # the workflow file name (kind "workflow")
    inputs: tuple[tuple[str, str], ...] = ()  # more dispatch inputs (kind "workflow")
    checks: tuple[str, ...] = ()  # required check-run names (kind "checks")
    statuses: tuple[str, ...] = ()  # required commit-status contexts (kind "checks")
    max_age: float | None = None  # seconds a pass counts for; None: forever
    deployment: str | None = None  # the environment deployed to (kind "deployment")
    stages: tuple[str, ...] | None = None  # the stages it validates; None: every stage

    def applies(self, stage: str) -> bool:
        """Whether this validation runs for (and can gate) a pre-release at `stage`."""
        return self.stages is None or stage in self.stages

    @property
    def on_github(self) -> bool:
        """Whether this validation runs on GitHub (and so needs the github forge)."""
        return self.kind != "command"


@dataclass(frozen=True)
class Config:
    """The whole configuration; ``source`` says where it came from, for messages."""

    root: Path
    source: str  # "rcflow.toml", "pyproject.toml [tool.rcflow]" or "defaults"
    tag_prefix: str = "v"
    rc_token: str = "rc"  # noqa: S105 - the pre-release word, not a secret
    branch: str | None = None
    remote: str = "origin"
    forge: str | None = None  # None: chosen from the remote (see `choose_forge`)
    rc_in_files: bool = False
    next_version: str | None = None  # "dev" or a suffix: promote commits the next dev version
    changelog: str | None = None
    lease_ttl: float = 900.0
    version_files: tuple[VersionFileConfig, ...] = ()
    previous_names: tuple[str, ...] = ()  # earlier "owner/repo" names of this repository
    allow_references: tuple[str, ...] = ()  # stale references to leave alone (text or owner/repo)
    # The environment variable that holds the alert webhook URL (URLs carry tokens: not in git).
    notify_webhook_env: str | None = None
    notify_issue: bool = False  # keep one GitHub issue per release line open while it fails
    validations: tuple[ValidationConfig, ...] = ()
    github_api_url: str | None = None
    github_repository: str | None = None
    assets: AssetsConfig | None = None
    hooks: HooksConfig = HooksConfig()
    images: tuple[ImageConfig, ...] = ()
    python_package: PythonPackageConfig | None = None
    # [preflight] waive: findings waived for good, as "id" or "id@path" (see `_preflight_waive`).
    preflight_waive: tuple[str, ...] = ()
    # How generated workflows get rcflow: the action pinned by full sha, or this pip requirement.
    action: str | None = None
    rcflow_requirement: str | None = None
    # The pre-release ladder, first stage first; () is the one stage rcflow always had (`rc`).
    stages: tuple[StageConfig, ...] = ()
    skip_allowed: tuple[str, ...] = ()  # stages a promotion may go past without tagging them
    release_soak: float | None = None  # [release] soak: the last stage's time before the final

    @property
    def ladder(self) -> tuple[StageConfig, ...]:
        """Every stage, first first; the last one is spelled with `rc_token`."""
        if self.stages:
            return self.stages
        return (StageConfig("rc", None, self.rc_token, "rc", self.release_soak),)

    validate_jobs: int | None = None  # commands run at once; None: all of them


def format_duration(seconds: float) -> str:
    """47h59m, 1h30m, 5m, 40s: hours as soaks are configured, no more than two units (the one
    spelling of a soak and of the time left, in a refusal and in status alike)."""
    whole = max(1, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return "".join(parts[:2])


def parse_duration(text: str | int | float, where: str) -> float:
    """Seconds in ``text``: a positive number of seconds, or ``"90s"``, ``"10m"``, ``"1h30m"``.

    ``where`` prefixes the error message (``rcflow.toml: validate[0].timeout``).
    """
    seconds: float | None = None
    if isinstance(text, bool):
        seconds = None
    elif isinstance(text, int | float):
        seconds = float(text)
    elif isinstance(text, str):
        match = _DURATION.fullmatch(text.strip())
        if match is not None and match.group("bare"):
            seconds = float(match.group("bare"))
        elif match is not None and any(match.group(unit) for unit in "dhms"):
            seconds = (
                float(match.group("d") or 0) * 86400
                + float(match.group("h") or 0) * 3600
                + float(match.group("m") or 0) * 60
                + float(match.group("s") or 0)
            )
    if seconds is None or not math.isfinite(seconds):
        raise ConfigError(f"{where}: not a duration: {text!r} (use 90s, 10m, 1h)")
    if seconds <= 0:
        raise ConfigError(f"{where}: must be longer than zero, got {text!r}")
    if seconds > MAX_DURATION:
        # Far past any real wait, and past what a date can hold once added to the clock.
        raise ConfigError(f"{where}: {text!r} is too long (at most 366d)")
    return seconds


def load_config(root: Path) -> Config:
    """Read and validate the configuration of the repository at ``root``.

    Raises `ConfigError` (one line naming the file and key) for anything invalid. Version files are
    checked for existence and a usable kind/pattern, not read: reading them is the caller's job,
    which reports problems with line numbers.
    """
    config_path = root / CONFIG_FILE
    pyproject_path = root / PYPROJECT
    tool_table = _tool_rcflow(pyproject_path) if pyproject_path.is_file() else None
    if config_path.is_file():
        if tool_table is not None:
            raise ConfigError(
                "both rcflow.toml and [tool.rcflow] in pyproject.toml; keep one",
                hint="move the settings into one of them and delete the other",
            )
        source = CONFIG_FILE
        data = _load_toml(config_path, CONFIG_FILE)
        reader = _Reader(f"{CONFIG_FILE}:")
    elif tool_table is not None:
        source = f"{PYPROJECT} [tool.rcflow]"
        data = tool_table
        reader = _Reader(f"{PYPROJECT}: [tool.rcflow]")
    else:
        return Config(root=root, source="defaults", version_files=_auto_detect(root))
    return _build(root, source, data, reader)


def _load_toml(path: Path, label: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{label}: not UTF-8: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read: {exc.strerror or exc}") from exc


def _tool_rcflow(pyproject_path: Path) -> dict[str, Any] | None:
    data = _load_toml(pyproject_path, PYPROJECT)
    tool = data.get("tool")
    if not isinstance(tool, dict) or "rcflow" not in tool:
        return None
    table = tool["rcflow"]
    if not isinstance(table, dict):
        raise ConfigError(f"{PYPROJECT}: [tool.rcflow] must be a table, got {_toml_type(table)}")
    return table


def _build(root: Path, source: str, data: Mapping[str, Any], reader: _Reader) -> Config:
    reader.no_unknown_keys(data, _TOP_KEYS, "")
    defaults = Config(root=root, source=source)

    tag_prefix = reader.get(data, "tag_prefix", str, defaults.tag_prefix)
    if _BAD_TAG_CHARS.search(tag_prefix) or ".." in tag_prefix or tag_prefix.startswith(("-", "/")):
        raise reader.error("tag_prefix", f"{tag_prefix!r} cannot start a git tag name")
    _check_tag_names(tag_prefix, reader)

    rc_token = reader.get(data, "rc_token", str, defaults.rc_token)
    if not _RC_TOKEN.fullmatch(rc_token):
        raise reader.error("rc_token", f"{rc_token!r} must be lowercase letters (a-z) only")

    branch = reader.get_optional(data, "branch", str)
    if branch is not None and not branch.strip():
        raise reader.error("branch", "must not be empty")
    if branch is not None and (problem := _name_problem(branch, "refs/heads/")):
        raise reader.error("branch", f"{branch!r} is not a branch name git accepts ({problem})")
    remote = reader.get(data, "remote", str, defaults.remote)
    if not remote.strip():
        raise reader.error("remote", "must not be empty")
    # Passed to git as an argument: "--upload-pack=…" would be an option that runs a command.
    if problem := _name_problem(remote, "refs/remotes/"):
        raise reader.error("remote", f"{remote!r} is not a remote name git accepts ({problem})")

    forge = reader.get_optional(data, "forge", str)
    if forge is not None and forge not in FORGES:
        allowed = ", ".join(repr(name) for name in FORGES)
        raise ConfigError(f"{reader.label} forge {forge!r} is unknown (allowed: {allowed})")

    changelog = reader.get_optional(data, "changelog", str)
    if changelog is not None:
        changelog = _relative_path(changelog, "changelog", reader)

    lease_ttl = (
        reader.get_duration(data, "lease_ttl", "") if "lease_ttl" in data else defaults.lease_ttl
    )

    version_files = _version_files(root, data, reader)
    previous = reader.get_strings(data, "previous_names")
    for index, name in enumerate(previous):
        if not _OWNER_REPO.fullmatch(name):
            raise reader.error(f"previous_names[{index}]", f"{name!r} is not owner/repo")
    notify = data.get("notify", {})
    if not isinstance(notify, dict):
        raise reader.error("notify", f"expected a table, got {_toml_type(notify)}")
    reader.no_unknown_keys(notify, _NOTIFY_KEYS, "notify")
    webhook_env = reader.get_optional(notify, "webhook_env", str, "notify")
    if webhook_env is not None and not _ENV_NAME.fullmatch(webhook_env):
        raise reader.error(
            "notify.webhook_env", f"{webhook_env!r} is not an environment variable name"
        )
    api_url = reader.get_optional(data, "github_api_url", str)
    if api_url is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", api_url):
        raise reader.error("github_api_url", f"{api_url!r} is not an http(s) URL")
    repository = reader.get_optional(data, "github_repository", str)
    if repository is not None and not _OWNER_REPO.fullmatch(repository):
        raise reader.error("github_repository", f"{repository!r} is not owner/repo")
    assets = _assets(data, reader)
    python_package = _python_package(data, reader)
    if python_package is not None and assets is None:
        raise reader.error(
            "python_package",
            "publishes the RC's release assets byte for byte: add [assets] that builds the dists",
        )
    stages, rc_token = _stages(data, reader, rc_token)
    if len(stages) > 1 and reader.get(data, "rc_in_files", bool, False):
        raise reader.error(
            "rc_in_files", "works with one stage only; drop it or configure one stage"
        )
    validations = _validations(data, reader)
    on_github = [v for v in validations if v.on_github]
    if on_github and forge == "local":
        index = validations.index(on_github[0])
        raise reader.error(
            f"validate[{index}]",
            f'{on_github[0].name} runs on GitHub, which needs forge = "github" (not "local")',
        )
    return Config(
        images=_images(data, reader, tag_prefix, rc_token),
        python_package=python_package,
        github_api_url=api_url.rstrip("/") if api_url else None,
        github_repository=repository,
        assets=assets,
        hooks=_hooks(data, reader),
        root=root,
        source=source,
        tag_prefix=tag_prefix,
        rc_token=rc_token,
        branch=branch,
        remote=remote,
        forge=forge,
        rc_in_files=reader.get(data, "rc_in_files", bool, defaults.rc_in_files),
        next_version=_next_version(data, reader, rc_token),
        changelog=changelog,
        lease_ttl=lease_ttl,
        version_files=version_files or _auto_detect(root),
        validations=validations,
        previous_names=previous,
        allow_references=reader.get_strings(data, "allow_references"),
        notify_webhook_env=webhook_env,
        notify_issue=reader.get(notify, "issue", bool, False, "notify"),
        preflight_waive=_preflight_waive(data, reader),
        action=_action(data, reader),
        rcflow_requirement=_rcflow_requirement(data, reader),
        stages=stages if len(stages) > 1 else (),
        skip_allowed=_skip_allowed(data, reader, stages),
        release_soak=stages[-1].soak,
        validate_jobs=_validate_jobs(data, reader),
    )


def _version_files(
    root: Path, data: Mapping[str, Any], reader: _Reader
) -> tuple[VersionFileConfig, ...]:
    entries = reader.tables(data, "version_file")
    result: list[VersionFileConfig] = []
    for index, entry in enumerate(entries):
        at = f"version_file[{index}]"
        reader.no_unknown_keys(entry, _VERSION_FILE_KEYS, at)
        if "path" not in entry:
            raise reader.error(f"{at}.path", "required")
        path = _relative_path(reader.get(entry, "path", str, "", at), f"{at}.path", reader)
        full = root / path
        if not full.is_file():
            raise reader.error(f"{at}.path", f"no such file {path!r}")
        if not full.resolve().is_relative_to(root.resolve()):
            raise reader.error(f"{at}.path", f"{path!r} is outside the repository")

        pattern = reader.get_optional(entry, "pattern", str, at)
        kind_text = reader.get_optional(entry, "kind", str, at)
        kind = _choose(VersionFileKind, kind_text, f"{at}.kind", reader)
        if kind is None:
            kind = VersionFileKind.PATTERN if pattern is not None else detect_kind(path)
        if kind is None:
            raise reader.error(
                at,
                f"cannot tell the kind of {path!r}; add a pattern with a (?P<version>...) group",
            )
        if kind is VersionFileKind.PATTERN:
            if pattern is None:
                raise reader.error(f"{at}.pattern", "required for kind 'pattern'")
            _check_pattern(pattern, f"{at}.pattern", reader)
        elif pattern is not None:
            raise reader.error(
                f"{at}.pattern", f"only used with kind 'pattern', not {kind.value!r}"
            )

        spelling_text = reader.get_optional(entry, "spelling", str, at)
        spelling = _choose(Spelling, spelling_text, f"{at}.spelling", reader)

        item = VersionFileConfig(path=path, kind=kind, pattern=pattern, spelling=spelling)
        if item in result:
            raise reader.error(at, f"duplicates version_file[{result.index(item)}]")
        result.append(item)
    return tuple(result)


def _check_pattern(pattern: str, at: str, reader: _Reader) -> None:
    try:
        regex = re.compile(pattern, re.MULTILINE)
    except re.error as exc:
        raise reader.error(at, f"invalid regex: {exc}") from exc
    if "version" not in regex.groupindex:
        raise ConfigError(f"{reader.where(at)} has no (?P<version>...) group")


def _validations(data: Mapping[str, Any], reader: _Reader) -> tuple[ValidationConfig, ...]:
    result: list[ValidationConfig] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(reader.tables(data, "validate")):
        at = f"validate[{index}]"
        reader.no_unknown_keys(entry, _VALIDATE_KEYS, at)
        if "name" not in entry:
            raise reader.error(f"{at}.name", "required")
        name = reader.get(entry, "name", str, "", at)
        if not _NAME.fullmatch(name):
            raise reader.error(f"{at}.name", f"{name!r} may use only A-Z a-z 0-9 _ . -")
        if name in seen:
            raise reader.error(
                f"{at}.name", f"duplicate name {name!r} (see validate[{seen[name]}])"
            )
        seen[name] = index
        kinds = [k for k in ("run", "workflow") if k in entry]
        if "checks" in entry or "statuses" in entry:
            kinds.append("checks/statuses")
        if "deployment" in entry:
            kinds.append("deployment")
        if not kinds:
            raise reader.error(
                f"{at}.run", "required (or workflow, or checks/statuses, or deployment)"
            )
        if len(kinds) > 1:
            raise reader.error(at, f"has {' and '.join(kinds)}: use one of them per [[validate]]")
        timeout = reader.get_duration(entry, "timeout", "30m", at)
        required_flag = reader.get(entry, "required", bool, True, at)
        max_age = reader.get_duration(entry, "max_age", "0", at) if "max_age" in entry else None
        common: dict[str, Any] = {
            "name": name,
            "timeout": timeout,
            "required": required_flag,
            "max_age": max_age,
            "stages": _validation_stages(data, entry, at, reader),
        }
        if "inputs" in entry and "workflow" not in entry:
            raise reader.error(f"{at}.inputs", "only used with workflow = ...")
        if "run" in entry:
            run = reader.get(entry, "run", str, "", at)
            if not run.strip():
                raise reader.error(f"{at}.run", "must not be empty")
            result.append(ValidationConfig(run=run, **common))
        elif "workflow" in entry:
            workflow = reader.get(entry, "workflow", str, "", at)
            if not _WORKFLOW_FILE.fullmatch(workflow):
                raise reader.error(
                    f"{at}.workflow",
                    f'{workflow!r} is not a workflow file name (such as "e2e.yml", '
                    "a file in .github/workflows)",
                )
            inputs = _inputs(entry, f"{at}.inputs", reader)
            result.append(
                ValidationConfig(
                    run="", kind="workflow", workflow=workflow, inputs=inputs, **common
                )
            )
        elif "deployment" in entry:
            environment = _environment(entry, f"{at}.deployment", reader)
            result.append(
                ValidationConfig(run="", kind="deployment", deployment=environment, **common)
            )
        else:
            checks = _names(entry, "checks", at, reader)
            statuses = _names(entry, "statuses", at, reader)
            if not checks and not statuses:
                raise reader.error(f"{at}.checks", "name at least one check or status")
            result.append(
                ValidationConfig(run="", kind="checks", checks=checks, statuses=statuses, **common)
            )
    return tuple(result)


def _inputs(entry: Mapping[str, Any], at: str, reader: _Reader) -> tuple[tuple[str, str], ...]:
    table = entry.get("inputs", {})
    if not isinstance(table, dict):
        raise reader.error(at, f"expected a table of strings, got {_toml_type(table)}")
    for key, value in table.items():
        if key in WORKFLOW_INPUTS:
            raise reader.error(f"{at}.{key}", "is set by rcflow itself (the RC tag, the run id)")
        if not isinstance(value, str):
            raise reader.error(f"{at}.{key}", f"expected a string, got {_toml_type(value)}")
    if len(table) + len(WORKFLOW_INPUTS) > _MAX_INPUTS:
        most = _MAX_INPUTS - len(WORKFLOW_INPUTS)
        raise reader.error(at, f"at most {most} inputs (GitHub takes {_MAX_INPUTS} with rcflow's)")
    return tuple(sorted(table.items()))


def _names(entry: Mapping[str, Any], key: str, at: str, reader: _Reader) -> tuple[str, ...]:
    names = reader.get_strings(entry, key, at)
    for index, name in enumerate(names):
        if name in names[:index]:
            raise reader.error(f"{at}.{key}[{index}]", f"{name!r} is listed twice")
    return names


def _table(data: Mapping[str, Any], key: str, reader: _Reader) -> Mapping[str, Any] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise reader.error(key, f"expected a table ([{key}]), got {_toml_type(value)}")
    return value


def _assets(data: Mapping[str, Any], reader: _Reader) -> AssetsConfig | None:
    table = _table(data, "assets", reader)
    if table is None:
        return None
    reader.no_unknown_keys(table, _ASSETS_KEYS, "assets")
    if "files" not in table:
        raise reader.error("assets.files", 'required (globs such as ["dist/*"])')
    files = reader.get_strings(table, "files", "assets")
    if not files:
        raise reader.error("assets.files", "must name at least one glob")
    for index, glob in enumerate(files):
        _relative_path(glob, f"assets.files[{index}]", reader)
    build = reader.get_optional(table, "build", str, "assets")
    if build is not None and not build.strip():
        raise reader.error("assets.build", "must not be empty")
    timeout = reader.get_duration(table, "timeout", "30m", "assets")
    return AssetsConfig(files=files, build=build, timeout=timeout)


def _hooks(data: Mapping[str, Any], reader: _Reader) -> HooksConfig:
    table = _table(data, "hooks", reader)
    if table is None:
        return HooksConfig()
    reader.no_unknown_keys(table, _HOOKS_KEYS, "hooks")
    commands = {}
    for hook in _HOOKS:
        command = reader.get_optional(table, hook, str, "hooks")
        if command is not None and not command.strip():
            raise reader.error(f"hooks.{hook}", "must not be empty")
        commands[hook] = command
    timeout = reader.get_duration(table, "timeout", "30m", "hooks")
    return HooksConfig(timeout=timeout, **commands)


def _images(
    data: Mapping[str, Any], reader: _Reader, tag_prefix: str, rc_token: str
) -> tuple[ImageConfig, ...]:
    result: list[ImageConfig] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(reader.tables(data, "image")):
        at = f"image[{index}]"
        reader.no_unknown_keys(entry, _IMAGE_KEYS, at)
        if "name" not in entry:
            raise reader.error(f"{at}.name", 'required (e.g. "ghcr.io/acme/app")')
        name = reader.get(entry, "name", str, "", at)
        ref = _image_ref(name, f"{at}.name", reader)
        if ref in seen:
            raise reader.error(f"{at}.name", f"{name!r} duplicates image[{seen[ref]}]")
        seen[ref] = index
        spelling = _choose(
            Spelling, reader.get_optional(entry, "spelling", str, at), f"{at}.spelling", reader
        )
        spelling = spelling or Spelling.TAG
        sample = Version(1, 4, 0, 2).render(spelling, tag_prefix=tag_prefix, rc_token=rc_token)
        if not _IMAGE_TAG.fullmatch(sample):
            raise reader.error(
                f"{at}.spelling",
                f"{spelling.value!r} gives image tags such as {sample!r}, which registries refuse "
                '(use spelling = "semver")',
            )
        result.append(
            ImageConfig(
                name=name,
                spelling=spelling,
                latest=reader.get(entry, "latest", bool, False, at),
                insecure=reader.get(entry, "insecure", bool, False, at),
            )
        )
    return tuple(result)


def _image_ref(name: str, key: str, reader: _Reader) -> str:
    """The canonical host/repository of an image name; one-line errors for bad names."""
    from rcflow.model.images import ImageRef  # only configs with images pay for the import

    try:
        ref = ImageRef.parse(name)
    except UsageError as exc:
        raise reader.error(key, exc.message.removeprefix("image ")) from None
    if ref.tag is not None:
        raise reader.error(key, f"{name!r} names a tag; name the repository only")
    return f"{ref.host}/{ref.repository}"


def _python_package(data: Mapping[str, Any], reader: _Reader) -> PythonPackageConfig | None:
    table = _table(data, "python_package", reader)
    if table is None:
        return None
    reader.no_unknown_keys(table, _PACKAGE_KEYS, "python_package")
    defaults = PythonPackageConfig()
    at = "python_package"
    upload = reader.get(table, "upload_url", str, defaults.upload_url, at)
    _index_url(upload, f"{at}.upload_url", reader)
    simple = reader.get_optional(table, "simple_url", str, at)
    if simple is None:
        simple = KNOWN_INDEXES.get(upload)
        if simple is None:
            raise reader.error(f"{at}.simple_url", f"required for the index at {upload!r}")
    _index_url(simple, f"{at}.simple_url", reader)
    username = reader.get(table, "username", str, defaults.username, at)
    if not username.strip():
        raise reader.error(f"{at}.username", "must not be empty")
    password_env = reader.get(table, "password_env", str, defaults.password_env, at)
    if not _ENV_NAME.fullmatch(password_env):
        raise reader.error(
            f"{at}.password_env", f"{password_env!r} is not an environment variable name"
        )
    files = reader.get_strings(table, "files", at) if "files" in table else defaults.files
    if not files:
        raise reader.error(f"{at}.files", "must name at least one glob")
    for index, glob in enumerate(files):
        if "/" in glob or "\\" in glob:
            raise reader.error(
                f"{at}.files[{index}]", f"{glob!r} must match asset names, not paths"
            )
    return PythonPackageConfig(
        upload_url=upload,
        simple_url=simple,
        username=username,
        password_env=password_env,
        files=files,
        publish_rc=reader.get(table, "publish_rc", bool, False, at),
        trusted_publishing=_trusted_publishing(table, reader, at),
    )


def _index_url(url: str, key: str, reader: _Reader) -> None:
    match = _HTTP_URL.fullmatch(url)
    if match is None:
        raise reader.error(key, f"{url!r} is not an http(s) URL")
    loopback = match.group("host") in ("127.0.0.1", "localhost", "[::1]")
    if match.group("scheme") != "https" and not loopback:
        raise reader.error(key, f"{url!r}: https only (plain http on loopback)")


def _auto_detect(root: Path) -> tuple[VersionFileConfig, ...]:
    for name in AUTO_DETECT:
        kind = detect_kind(name)
        candidate = root / name
        if kind is None or not candidate.is_file():
            continue
        try:
            read_refs(kind, name, candidate.read_bytes().decode("utf-8"))
        except (VersionFileError, OSError, UnicodeDecodeError):
            # A pyproject.toml with a dynamic version, a private package.json without one...:
            # not the version file, so keep looking.
            continue
        return (VersionFileConfig(path=name, kind=kind, pattern=None, spelling=None),)
    return ()


def _relative_path(text: str, key: str, reader: _Reader) -> str:
    """``text`` as a normalised posix path inside the repository."""
    if not text.strip():
        raise reader.error(key, "must not be empty")
    posix = text.replace("\\", "/")
    if PurePosixPath(posix).is_absolute() or PureWindowsPath(text).drive:
        raise reader.error(key, f"{text!r} must be relative to the repository root")
    parts = [part for part in PurePosixPath(posix).parts if part != "."]
    if ".." in parts:
        raise reader.error(key, f"{text!r} must stay inside the repository (no '..')")
    if not parts:
        raise reader.error(key, f"{text!r} is not a file path")
    return "/".join(parts)


E = TypeVar("E", VersionFileKind, Spelling)


def _choose(enum: type[E], text: str | None, key: str, reader: _Reader) -> E | None:
    if text is None:
        return None
    try:
        return enum(text)
    except ValueError:
        allowed = ", ".join(repr(member.value) for member in enum)
        raise reader.error(key, f"unknown value {text!r} (allowed: {allowed})") from None


def _toml_type(value: object) -> str:
    names: list[tuple[type | tuple[type, ...], str]] = [
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        (list, "an array"),
        (dict, "a table"),
        ((datetime, date, time), "a date/time"),
    ]
    for types, name in names:
        if isinstance(value, types):
            return name
    return type(value).__name__


class _Reader:
    """Typed access to one config table, with errors that name the file and the key."""

    def __init__(self, label: str) -> None:
        # "rcflow.toml:" or "pyproject.toml: [tool.rcflow]": messages read "<label> <key>: ...".
        self.label = label

    def where(self, key: str) -> str:
        return f"{self.label} {key}"

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.where(key)}: {problem}")

    def no_unknown_keys(self, table: Mapping[str, Any], allowed: frozenset[str], at: str) -> None:
        for key in table:
            if key not in allowed:
                dotted = f"{at}.{key}" if at else key
                raise ConfigError(f"{self.label} unknown key {dotted!r}")

    def get(self, table: Mapping[str, Any], key: str, kind: type[T], default: T, at: str = "") -> T:
        value = self.get_optional(table, key, kind, at)
        return default if value is None else value

    def get_optional(
        self, table: Mapping[str, Any], key: str, kind: type[T], at: str = ""
    ) -> T | None:
        if key not in table:
            return None
        value = table[key]
        # bool is an int to Python but not to TOML; checking the exact type keeps them apart.
        if type(value) is not kind:
            names = {str: "a string", bool: "a boolean"}
            dotted = f"{at}.{key}" if at else key
            expected = names.get(kind, kind.__name__)
            raise self.error(dotted, f"expected {expected}, got {_toml_type(value)}")
        return value

    def get_duration(self, table: Mapping[str, Any], key: str, default: str, at: str = "") -> float:
        dotted = f"{at}.{key}" if at else key
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.error(dotted, f"expected a duration, got {_toml_type(value)}")
        return parse_duration(value, self.where(dotted))

    def get_strings(self, table: Mapping[str, Any], key: str, at: str = "") -> tuple[str, ...]:
        dotted = f"{at}.{key}" if at else key
        value = table.get(key, [])
        if not isinstance(value, list):
            raise self.error(dotted, f"expected an array of strings, got {_toml_type(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.error(f"{dotted}[{index}]", "expected a non-empty string")
        return tuple(value)

    def tables(self, data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
        value = data.get(key, [])
        if not isinstance(value, list):
            raise self.error(
                key, f"expected an array of tables ([[{key}]]), got {_toml_type(value)}"
            )
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.error(f"{key}[{index}]", f"expected a table, got {_toml_type(item)}")
        return value


def committed_validations(
    rcflow_toml: str | None, pyproject: str | None, *, at: str
) -> tuple[str, tuple[ValidationConfig, ...]]:
    """The `[[validate]]` entries of a configuration as committed (file texts, not the tree).

    An RC is validated by the validations of its own commit, so every clone judges it alike
    whatever its working tree holds. Returns (source, validations); `at` names the commit in
    messages. Raises `ConfigError` for a committed configuration that does not parse.
    """
    tool: dict[str, Any] | None = None
    if pyproject is not None:
        try:
            table = tomllib.loads(pyproject).get("tool")
        except tomllib.TOMLDecodeError as exc:
            if rcflow_toml is None:
                raise ConfigError(f"{PYPROJECT} at {at}: not valid TOML: {exc}") from exc
            table = None
        if isinstance(table, dict) and isinstance(table.get("rcflow"), dict):
            tool = table["rcflow"]
    if rcflow_toml is not None:
        try:
            data: Mapping[str, Any] = tomllib.loads(rcflow_toml)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{CONFIG_FILE} at {at}: not valid TOML: {exc}") from exc
        source, reader = CONFIG_FILE, _Reader(f"{CONFIG_FILE} at {at}:")
    elif tool is not None:
        data, source = tool, f"{PYPROJECT} [tool.rcflow]"
        reader = _Reader(f"{PYPROJECT} at {at}: [tool.rcflow]")
    else:
        return "defaults", ()
    return source, _validations(data, reader)


def ref_format_problem(name: str) -> str | None:
    """Why git refuses `name` as a ref (`git check-ref-format` rules), or None if it accepts it."""
    if "@{" in name:
        return "it contains '@{'"
    if name == "@":
        return "it is '@'"
    if "//" in name or name.startswith("/") or name.endswith("/"):
        return "it has an empty path component"
    if name.endswith("."):
        return "it ends with '.'"
    if ".." in name:
        return "it contains '..'"
    bad = _BAD_REF_CHARS.search(name)
    if bad is not None:
        return f"it contains {bad.group()!r}"
    for component in name.split("/"):
        if component.startswith("."):
            return f"a component starts with '.' ({component!r})"
        if component.endswith(".lock"):
            return f"a component ends with '.lock' ({component!r})"
    return None


# Characters git refuses anywhere in a ref name: control characters, space, ~ ^ : ? * [ \.
_BAD_REF_CHARS = lazy(r"[\x00-\x20\x7f~^:?*\[\\]")


def _check_tag_names(tag_prefix: str, reader: _Reader) -> None:
    """Every tag rcflow makes with this prefix must be one git takes (`pkg/v` is; `rel//v` not).

    Checked on an RC's and a final's tag: the prefix joins the version, so `v.lock/` or `rel/.v`
    are only refused once a version follows them.
    """
    from rcflow.model.version import tag_name

    for version in (Version(1, 4, 0, 2), Version(1, 4, 0)):
        tag = tag_name(version, tag_prefix=tag_prefix)
        problem = ref_format_problem(f"refs/tags/{tag}")
        if problem is not None:
            raise reader.error(
                "tag_prefix", f"{tag_prefix!r} makes tags git refuses ({tag!r}: {problem})"
            )


def _name_problem(name: str, namespace: str) -> str | None:
    """Why `name` is no branch or remote name git takes as such (an option, a bad ref name)."""
    if name.startswith("-"):
        return "it starts with '-'"
    return ref_format_problem(f"{namespace}{name}")


_PREFLIGHT_KEYS = frozenset({"waive"})
_FINDING_ID = lazy(r"[a-z][a-z0-9-]*(?:\.[a-z0-9-]+)+")


def _preflight_waive(data: Mapping[str, Any], reader: _Reader) -> tuple[str, ...]:
    """``[preflight] waive``: each ``id`` or ``id@path`` (a path relative to the root)."""
    table = data.get("preflight", {})
    if not isinstance(table, dict):
        raise reader.error("preflight", f"expected a table, got {_toml_type(table)}")
    reader.no_unknown_keys(table, _PREFLIGHT_KEYS, "preflight")
    waivers: list[str] = []
    for index, item in enumerate(reader.get_strings(table, "waive", "preflight")):
        finding, sep, path = item.strip().partition("@")
        if not _FINDING_ID.fullmatch(finding):
            raise reader.error(
                f"preflight.waive[{index}]",
                f"{item!r} is not a finding id (e.g. workflow.artifact-race) or id@path",
            )
        if sep:
            path = _relative_path(path, f"preflight.waive[{index}]", reader)
            waivers.append(f"{finding}@{path}")
        else:
            waivers.append(finding)
    return tuple(waivers)


def _next_version(data: Mapping[str, Any], reader: _Reader, rc_token: str) -> str | None:
    value = reader.get_optional(data, "next_version", str)
    if value is None:
        return None
    why = check_next_version(value, rc_token)
    if why is not None:
        raise reader.error("next_version", why)
    return value


# -- how generated workflows get rcflow (issue 16) ------------------------------------------------

# `owner/repo@sha` or `owner/repo/path@sha`: a tag or branch can move under a release workflow.
_ACTION_REF = lazy(
    r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*@(?P<ref>[^@\s]*)"
)
_FULL_SHA = lazy(r"[0-9a-f]{40}")
# An exact version, or a VCS URL pinned to a commit (with or without `rcflow @ ` in front).
_EXACT_REQUIREMENT = lazy(r"rcflow\s*===?\s*[0-9][0-9A-Za-z.+!-]*")
_VCS_REQUIREMENT = lazy(
    r"(?:rcflow\s*@\s*)?git\+(?:https|ssh)://[A-Za-z0-9._~:/%@+-]+@[0-9a-f]{40}"
    r"(?:#[A-Za-z0-9_.=&-]*)?"
)


def action_problem(action: str) -> str | None:
    """Why ``action`` cannot be the rcflow action a workflow uses, or None when it can."""
    match = _ACTION_REF.fullmatch(action)
    if match is None:
        return f"{action!r} is not OWNER/REPO@SHA"
    if not _FULL_SHA.fullmatch(match.group("ref")):
        return (
            f"{action!r} must be pinned by a full 40-character commit sha (a tag or branch can "
            "move under a release workflow)"
        )
    return None


def requirement_problem(requirement: str) -> str | None:
    """Why ``requirement`` cannot be how a workflow installs rcflow, or None when it can."""
    text = requirement.strip()
    if _EXACT_REQUIREMENT.fullmatch(text) or _VCS_REQUIREMENT.fullmatch(text):
        return None
    return (
        f"{requirement!r} is not pinned: use an exact version (rcflow==0.1.0) or a VCS URL "
        "pinned to a full commit sha (rcflow @ git+https://github.com/OWNER/rcflow@SHA)"
    )


def _action(data: Mapping[str, Any], reader: _Reader) -> str | None:
    action = reader.get_optional(data, "action", str)
    if action is not None and (problem := action_problem(action)):
        raise reader.error("action", problem)
    return action


def _rcflow_requirement(data: Mapping[str, Any], reader: _Reader) -> str | None:
    requirement = reader.get_optional(data, "rcflow_requirement", str)
    if requirement is None:
        return None
    if problem := requirement_problem(requirement):
        raise reader.error("rcflow_requirement", problem)
    return requirement.strip()


def _trusted_publishing(table: Mapping[str, Any], reader: _Reader, at: str) -> bool:
    """A minted token is always `__token__`'s: a configured password or user would be ignored."""
    trusted = reader.get(table, "trusted_publishing", bool, False, at)
    if trusted:
        for key in ("password_env", "username"):
            if key in table:
                raise reader.error(
                    f"{at}.{key}", "not with trusted_publishing (the index mints the token)"
                )
    return trusted


# --- the pre-release ladder (issue 15) ------------------------------------------------------------
_STAGE_KEYS = frozenset({"word", "pep440", "soak"})
_RELEASE_KEYS = frozenset({"soak"})
_PEP440_PHASES = ("a", "b", "rc")  # PEP 440 knows three pre-release phases, in this order
_MAX_STAGES = len(_PEP440_PHASES)


@dataclass(frozen=True)
class StageConfig:
    """One stage of the pre-release ladder: its name, its spellings and its soak time."""

    name: str
    word: StageWord | None  # how a Version carries it; None: the last stage
    token: str  # the semver / tag word (v1.4.0-beta.2)
    pep440: str  # the PEP 440 phase (1.4.0b2)
    soak: float | None = None  # seconds a pre-release stays out before it is promoted on

    @property
    def last(self) -> bool:
        return self.word is None


def _declared_stages(data: Mapping[str, Any]) -> list[str]:
    value = data.get("stages")
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return ["rc"]


def _stages(
    data: Mapping[str, Any], reader: _Reader, rc_token: str
) -> tuple[tuple[StageConfig, ...], str]:
    """The ladder and the last stage's word (what `rc_token` is from then on)."""
    names = list(reader.get_strings(data, "stages")) if "stages" in data else ["rc"]
    if not names:
        raise reader.error("stages", 'name at least one stage (the default is ["rc"])')
    if len(names) > _MAX_STAGES:
        raise reader.error(
            "stages", f"at most {_MAX_STAGES} stages (PEP 440 has three phases: a, b, rc)"
        )
    for index, name in enumerate(names):
        if not _RC_TOKEN.fullmatch(name):
            raise reader.error(f"stages[{index}]", f"{name!r} must be lowercase letters (a-z)")
        if name in names[:index]:
            raise reader.error(f"stages[{index}]", f"{name!r} is listed twice")
    tables = data.get("stage", {})
    if not isinstance(tables, dict):
        raise reader.error("stage", f"expected tables ([stage.NAME]), got {_toml_type(tables)}")
    for name, table in tables.items():
        if name not in names:
            raise reader.error(f"stage.{name}", f"{name!r} is not in stages {names}")
        if not isinstance(table, dict):
            raise reader.error(f"stage.{name}", f"expected a table, got {_toml_type(table)}")
        reader.no_unknown_keys(table, _STAGE_KEYS, f"stage.{name}")
    release = data.get("release", {})
    if not isinstance(release, dict):
        raise reader.error("release", f"expected a table, got {_toml_type(release)}")
    reader.no_unknown_keys(release, _RELEASE_KEYS, "release")

    lower = names[:-1]
    defaults = {"alpha": "a", "beta": "b"}
    positional = _PEP440_PHASES[2 - len(lower) : 2]
    result: list[StageConfig] = []
    for rank, name in enumerate(names):
        at = f"stage.{name}"
        table = tables.get(name, {})
        last = rank == len(names) - 1
        word = reader.get_optional(table, "word", str, at)
        if last:
            if word is not None and "rc_token" in data and word != rc_token:
                raise reader.error(
                    f"{at}.word", f"{word!r} disagrees with rc_token {rc_token!r}: keep one"
                )
            word = word or (rc_token if "rc_token" in data else name)
        word = word or name
        if not _RC_TOKEN.fullmatch(word):
            raise reader.error(f"{at}.word", f"{word!r} must be lowercase letters (a-z) only")
        phase = reader.get_optional(table, "pep440", str, at)
        if last:
            if phase not in (None, "rc"):
                raise reader.error(f"{at}.pep440", f"the last stage is PEP 440's rc, not {phase!r}")
            phase = "rc"
        elif phase is None:
            phase = defaults.get(name, positional[rank])
        elif phase not in _PEP440_PHASES[:2]:
            raise reader.error(f"{at}.pep440", f"{phase!r} is not a PEP 440 phase below rc (a, b)")
        soak = reader.get_duration(table, "soak", "0", at) if "soak" in table else None
        if last and "soak" in release:
            if soak is not None:
                raise reader.error("release.soak", f"and {at}.soak both set: keep one")
            soak = reader.get_duration(release, "soak", "0", "release")
        result.append(
            StageConfig(
                name=name,
                word=None if last else StageWord(rank, word, phase),
                token=word,
                pep440=phase,
                soak=soak,
            )
        )
    for index, stage in enumerate(result[1:], 1):
        before = result[index - 1]
        if stage.token == before.token or stage.token in {s.token for s in result[:index]}:
            raise reader.error(
                f"stage.{stage.name}.word", f"{stage.token!r} is already {before.name}'s word"
            )
        if stage.token < before.token:
            # npm, cargo, helm and every semver tool order pre-releases by their words.
            raise reader.error(
                f"stage.{stage.name}.word",
                f"{stage.token!r} sorts before {before.token!r}: semver orders pre-releases by "
                "their words, so stage words must sort in ladder order",
            )
        if _PEP440_PHASES.index(stage.pep440) <= _PEP440_PHASES.index(before.pep440):
            raise reader.error(
                f"stage.{stage.name}.pep440",
                f"{stage.pep440!r} does not come after {before.name}'s {before.pep440!r} "
                "(PEP 440 orders a < b < rc)",
            )
    return tuple(result), result[-1].token


def _skip_allowed(
    data: Mapping[str, Any], reader: _Reader, stages: tuple[StageConfig, ...]
) -> tuple[str, ...]:
    names = reader.get_strings(data, "skip_allowed")
    known = [s.name for s in stages]
    for index, name in enumerate(names):
        if name not in known:
            raise reader.error(f"skip_allowed[{index}]", f"{name!r} is not in stages {known}")
    return names


def _validation_stages(
    data: Mapping[str, Any], entry: Mapping[str, Any], at: str, reader: _Reader
) -> tuple[str, ...] | None:
    if "stages" not in entry:
        return None
    names = _names(entry, "stages", at, reader)
    known = _declared_stages(data)
    for index, name in enumerate(names):
        if name not in known:
            raise reader.error(f"{at}.stages[{index}]", f"{name!r} is not in stages {known}")
    if not names:
        raise reader.error(f"{at}.stages", "name at least one stage, or leave it out (every one)")
    return names


def stage_named(config: Config, name: str) -> StageConfig | None:
    return next((s for s in config.ladder if s.name == name), None)


def stage_of(config: Config, version: Version) -> StageConfig:
    """The stage of a pre-release of this configuration (the last one for a bare RC)."""
    if version.stage is None:
        return config.ladder[-1]
    return next(
        (s for s in config.ladder if s.word == version.stage),
        config.ladder[min(version.stage.rank, len(config.ladder) - 1)],
    )


def parse_stage_tag(tag: str, config: Config) -> Version | None:
    """The version a tag of this configuration names, at whichever stage it is (or None)."""
    v = _parse_tag(tag, tag_prefix=config.tag_prefix, rc_token=config.rc_token)
    if v is not None or not config.stages:
        return v
    for stage in config.stages[:-1]:
        v = _parse_tag(tag, tag_prefix=config.tag_prefix, rc_token=stage.token)
        if v is not None and v.rc is not None:
            return Version(v.major, v.minor, v.patch, v.rc, stage.word)
    return None


def stage_tag_matcher(config: Config) -> Callable[[str], bool]:
    """A fast "is this one of our tags" over every stage's spelling."""
    from rcflow.model.version import tag_matcher

    matchers = [tag_matcher(config.tag_prefix, s.token) for s in config.ladder]
    if len(matchers) == 1:
        return matchers[0]
    return lambda name: any(m(name) for m in matchers)


# -- deployment validations (issue 15) -------------------------------------------------------------

_MAX_ENVIRONMENT = 255  # GitHub's longest environment name


def _environment(entry: Mapping[str, Any], at: str, reader: _Reader) -> str:
    """A deployment environment's name, as GitHub takes it (it is sent as a query parameter)."""
    value = entry["deployment"]
    if not isinstance(value, str):
        raise reader.error(at, f"expected an environment name (a string), got {_toml_type(value)}")
    if not value.strip():
        raise reader.error(at, 'must name an environment (such as "staging")')
    if value != value.strip():
        raise reader.error(at, f"{value!r} has spaces around the name")
    if len(value) > _MAX_ENVIRONMENT:
        raise reader.error(at, f"longer than {_MAX_ENVIRONMENT} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise reader.error(at, f"{value!r} contains a control character")
    return value


def _validate_jobs(data: Mapping[str, Any], reader: _Reader) -> int | None:
    """``validate_jobs``: how many validation commands run at once (absent: all of them)."""
    if "validate_jobs" not in data:
        return None
    jobs = data["validate_jobs"]
    if type(jobs) is not int:  # bool is an int to Python, not to TOML
        raise reader.error("validate_jobs", f"expected a whole number, got {_toml_type(jobs)}")
    if jobs < 1:
        raise reader.error("validate_jobs", f"must be at least 1, got {jobs}")
    return jobs


def tag_spelling(config: Config) -> tuple[object, ...]:
    """What `parse_stage_tag` reads of a configuration: tags parsed under an equal spelling
    have the same versions (observe parses each tag once; classify reuses them)."""
    return (config.tag_prefix, config.rc_token, config.stages)
