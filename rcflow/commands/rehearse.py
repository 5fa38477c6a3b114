"""rehearse: a whole release cycle in a sandbox — a throwaway clone whose origin is a temporary
bare copy of the real remote — so the real remote, work tree and ledger are never touched.

`--demo` builds a sample repository instead (a pyproject at 1.3.0, tag v1.3.0, one `feat:` commit)
and shows every step, including a promotion refused before validation and a re-run that is a no-op.

The rehearsal prints nothing: it reports what happens as `Event`s (the sandbox, a status, a step
and its result, the ledger) and the CLI renders them.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rcflow.commands import context as sandboxgit
from rcflow.commands import run as commands
from rcflow.errors import BlockedError, ExitCode, RcflowError, UsageError
from rcflow.model.config import Config, HooksConfig
from rcflow.model.ledger import Event as LedgerEvent
from rcflow.model.snapshot import Snapshot
from rcflow.model.states import Release
from rcflow.steps.bump import BumpArgs
from rcflow.steps.promote import PromoteArgs
from rcflow.steps.rc import RcArgs
from rcflow.steps.validate import ValidateArgs

_IDENTITY = ("-c", "user.name=rcflow rehearsal", "-c", "user.email=rehearsal@rcflow.invalid")


def _demo_repo(sandbox: Path) -> Path:
    origin = sandbox / "origin.git"
    work = sandbox / "demo"
    sandboxgit.sandbox_git(
        sandbox, "init", "--quiet", "--bare", "--initial-branch=main", str(origin)
    )
    sandboxgit.sandbox_git(sandbox, "init", "--quiet", "--initial-branch=main", str(work))
    for key, value in (("user.name", "Demo Maintainer"), ("user.email", "demo@example.invalid")):
        sandboxgit.sandbox_git(work, "config", key, value)
    sandboxgit.sandbox_git(work, "remote", "add", "origin", str(origin))
    (work / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "1.3.0"  # bumped by rcflow\n'
        'description = "A sample project for the rcflow demo"\n',
        encoding="utf-8",
    )
    py = shlex.quote(sys.executable)
    unit = f"{py} -c 'print(\"12 tests passed\")'"
    smoke = f'{py} -c \'import greeting; assert greeting.greet("Ada") == "Hello, Ada!"\''
    # The RC's assets: built once from the RC commit, carried byte for byte to the final.
    build = 'mkdir -p dist && tar -czf "dist/demo-$RCFLOW_PEP440.tar.gz" greeting.py pyproject.toml'
    # json.dumps spells a valid TOML basic string for these ASCII commands.
    (work / "rcflow.toml").write_text(
        "# rcflow demo configuration\n"
        'forge = "local"\n'
        'changelog = "CHANGELOG.md"\n\n'
        f'[assets]\nfiles = ["dist/*"]\nbuild = {json.dumps(build)}\n\n'
        f'[[validate]]\nname = "unit"\nrun = {json.dumps(unit)}\ntimeout = "2m"\n\n'
        f'[[validate]]\nname = "smoke"\nrun = {json.dumps(smoke)}\ntimeout = "1m"\n',
        encoding="utf-8",
    )
    sandboxgit.sandbox_git(work, "add", ".")
    sandboxgit.sandbox_git(work, "commit", "--quiet", "-m", "feat: first release")
    sandboxgit.sandbox_git(work, "tag", "-a", "v1.3.0", "-m", "Release 1.3.0")
    (work / "greeting.py").write_text('def greet(name):\n    return f"Hello, {name}!"\n')
    sandboxgit.sandbox_git(work, "add", ".")
    sandboxgit.sandbox_git(work, "commit", "--quiet", "-m", "feat: greet people by name")
    sandboxgit.sandbox_git(work, "push", "--quiet", "origin", "main", "v1.3.0")
    sandboxgit.sandbox_git(work, "branch", "--set-upstream-to=origin/main")
    return work


def _sandbox_of(source: Path, sandbox: Path) -> Path:
    """A bare copy of source's origin (plus its local branch) and a fresh clone of that copy."""
    root = sandboxgit.repository_root(source)
    ctx = commands.load_context(root, forge="local")
    remote = ctx.config.remote
    url = ctx.git.config_value(f"remote.{remote}.url")
    if not url:
        raise UsageError(f"{root}: no remote named {remote} to rehearse against")
    if not any(
        url.startswith(p) for p in ("/", "file:", "http:", "https:", "ssh:", "git@", "git:")
    ):
        url = str((root / url).resolve())
    mirror = sandbox / "origin.git"
    sandboxgit.clone_mirror(url, mirror)
    status = ctx.git.status()
    if status.branch:
        # Rehearse what this clone would release, including commits not pushed yet.
        sandboxgit.sandbox_git(
            root, "push", "--quiet", str(mirror), f"HEAD:refs/heads/{status.branch}"
        )
    work = sandbox / "work"
    sandboxgit.clone(str(mirror), work, status.branch)
    sandboxgit.sandbox_git(work, "fetch", "--quiet", "origin", "+refs/rcflow/*:refs/rcflow/*")
    if ctx.git.identity() is None:
        sandboxgit.sandbox_git(work, "config", "user.name", _IDENTITY[1].split("=", 1)[1])
        sandboxgit.sandbox_git(work, "config", "user.email", _IDENTITY[3].split("=", 1)[1])
    return work


def _sandbox_context(work: Path) -> commands.Context:
    """The sandbox's context: the local forge; no hooks, images or packages (they are real)."""
    ctx = commands.load_context(work, forge="local")
    sandboxed = replace(ctx.config, hooks=HooksConfig(), images=(), python_package=None)
    # A rehearsal climbs the ladder at once: soak times are real-world waits.
    sandboxed = replace(
        sandboxed,
        stages=tuple(replace(stage, soak=None) for stage in sandboxed.stages),
        release_soak=None,
    )
    return replace(ctx, config=sandboxed)


@dataclass(frozen=True)
class Sandbox:
    """The sandbox is ready: work is the clone every step runs in."""

    work: Path
    demo: bool


@dataclass(frozen=True)
class Status:
    snapshot: Snapshot
    release: Release
    config: Config
    final: bool = False  # the status after the whole cycle (else: before it)


@dataclass(frozen=True)
class StepStarted:
    step: str
    title: str
    command: str  # as a user would type it: `rcflow bump auto`


@dataclass(frozen=True)
class StepRefused:
    step: str
    error: BlockedError


@dataclass(frozen=True)
class StepEnded:
    result: commands.StepResult
    config: Config


@dataclass(frozen=True)
class Stopped:
    """A step failed (or was refused when it should not be): the rehearsal ends there."""

    step: str
    state: str


@dataclass(frozen=True)
class Ledger:
    events: tuple[LedgerEvent, ...]


@dataclass(frozen=True)
class Complete:
    sandbox: Path
    kept: bool


Event = Sandbox | Status | StepStarted | StepRefused | StepEnded | Stopped | Ledger | Complete


@dataclass
class Rehearsal:
    """The outcome: the exit code, and each step's (the --json document's `steps`)."""

    exit_code: int = 0
    steps: list[dict[str, Any]] = field(default_factory=list)


def _step(
    report: Callable[[Event], None],
    hooks: commands.Hooks,
    work: Path,
    step: str,
    args: Any,
    title: str,
    trail: list[dict[str, Any]],
    skip: tuple[str, ...] = (),
) -> tuple[int, str]:
    report(StepStarted(step, title, f"rcflow {step}{_argtext(args)}"))
    ctx = _sandbox_context(work)
    try:
        # The config's [preflight] waive applies here as in a real run; --skip-check adds to it.
        result = commands.run_step(ctx, step, args, dry_run=False, hooks=hooks, skip=skip)
    except BlockedError as err:
        report(StepRefused(step, err))
        trail.append({"step": step, "title": title, "exit_code": int(err.exit_code)})
        return int(err.exit_code), "blocked"
    report(StepEnded(result, ctx.config))
    code, state = (1 if result.status == "failed" else 0), result.release.state.value
    trail.append(
        {"step": step, "title": title, "exit_code": code, "status": result.status, "state": state}
    )
    return code, state


def _argtext(args: Any) -> str:
    if isinstance(args, BumpArgs):
        return f" {args.request}"
    return ""


def run(
    report: Callable[[Event], None],
    hooks: commands.Hooks,
    *,
    source: Path | None,
    part: str,
    keep: bool,
    skip: tuple[str, ...] = (),
) -> Rehearsal:
    """The whole cycle, reported as it happens; hooks confirm and show each step's effects."""
    outcome = Rehearsal()
    trail = outcome.steps
    sandbox = Path(tempfile.mkdtemp(prefix="rcflow-rehearse-"))
    try:
        work = _demo_repo(sandbox) if source is None else _sandbox_of(source, sandbox)
        report(Sandbox(work, demo=source is None))
        ctx = _sandbox_context(work)
        snap, release = commands.status(ctx)
        report(Status(snap, release, ctx.config))

        sequence: list[tuple[str, Any, str]] = [("bump", BumpArgs(part), "bump the version")]
        sequence.append(("rc", RcArgs(), "tag a release candidate"))
        if source is None:
            sequence.append(
                ("promote", PromoteArgs(), "promote before validation (must be refused)")
            )
        sequence.append(("validate", ValidateArgs(), "validate the exact RC commit"))
        for stage in ctx.config.stages[1:]:
            # Up the ladder on the same commit, each stage validated before the next.
            sequence += [
                ("promote", PromoteArgs(to=stage.name), f"promote to {stage.name}"),
                ("validate", ValidateArgs(), f"validate at {stage.name}"),
            ]
        sequence.append(("promote", PromoteArgs(), "promote the validated RC"))
        if source is None:
            sequence.append(("promote", PromoteArgs(), "run promote again (nothing to do)"))
        for step, args, title in sequence:
            code, state = _step(report, hooks, work, step, args, title, trail, skip)
            refused_on_purpose = "must be refused" in title
            if refused_on_purpose and code != int(ExitCode.BLOCKED):
                raise RcflowError("the demo expected promote to be refused before validation")
            if code and not refused_on_purpose:
                report(Stopped(step, state))
                outcome.exit_code = code
                return outcome

        report(Ledger(commands.events(_sandbox_context(work))))
        ctx = _sandbox_context(work)
        snap, release = commands.status(ctx)
        report(Status(snap, release, ctx.config, final=True))
        report(Complete(sandbox, kept=keep))
        return outcome
    finally:
        if not keep:
            shutil.rmtree(sandbox, ignore_errors=True)
