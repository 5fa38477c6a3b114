"""rehearse: a whole release cycle in a sandbox — a throwaway clone whose origin is a temporary
bare copy of the real remote — so the real remote, work tree and ledger are never touched.

`--demo` builds a sample repository instead (a pyproject at 1.3.0, tag v1.3.0, one `feat:` commit)
and shows every step, including a promotion refused before validation and a re-run that is a no-op.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from rcflow.adapters import git as gitadapter
from rcflow.cli.guard import OutputHooks
from rcflow.commands import run as commands
from rcflow.errors import BlockedError, ExitCode, RcflowError, UsageError
from rcflow.model.config import HooksConfig
from rcflow.steps.bump import BumpArgs
from rcflow.steps.promote import PromoteArgs
from rcflow.steps.rc import RcArgs
from rcflow.steps.validate import ValidateArgs

_IDENTITY = ("-c", "user.name=rcflow rehearsal", "-c", "user.email=rehearsal@rcflow.invalid")


def _demo_repo(sandbox: Path) -> Path:
    origin = sandbox / "origin.git"
    work = sandbox / "demo"
    gitadapter.run_git(sandbox, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    gitadapter.run_git(sandbox, "init", "--quiet", "--initial-branch=main", str(work))
    for key, value in (("user.name", "Demo Maintainer"), ("user.email", "demo@example.invalid")):
        gitadapter.run_git(work, "config", key, value)
    gitadapter.run_git(work, "remote", "add", "origin", str(origin))
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
    gitadapter.run_git(work, "add", ".")
    gitadapter.run_git(work, "commit", "--quiet", "-m", "feat: first release")
    gitadapter.run_git(work, "tag", "-a", "v1.3.0", "-m", "Release 1.3.0")
    (work / "greeting.py").write_text('def greet(name):\n    return f"Hello, {name}!"\n')
    gitadapter.run_git(work, "add", ".")
    gitadapter.run_git(work, "commit", "--quiet", "-m", "feat: greet people by name")
    gitadapter.run_git(work, "push", "--quiet", "origin", "main", "v1.3.0")
    gitadapter.run_git(work, "branch", "--set-upstream-to=origin/main")
    return work


def _sandbox_of(source: Path, sandbox: Path) -> Path:
    """A bare copy of source's origin (plus its local branch) and a fresh clone of that copy."""
    root, _ = gitadapter.Git.discover(source)
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
    gitadapter.clone_mirror(url, mirror)
    status = ctx.git.status()
    if status.branch:
        # Rehearse what this clone would release, including commits not pushed yet.
        gitadapter.run_git(root, "push", "--quiet", str(mirror), f"HEAD:refs/heads/{status.branch}")
    work = sandbox / "work"
    gitadapter.clone(str(mirror), work, status.branch)
    gitadapter.run_git(work, "fetch", "--quiet", "origin", "+refs/rcflow/*:refs/rcflow/*")
    if ctx.git.identity() is None:
        gitadapter.run_git(work, "config", "user.name", _IDENTITY[1].split("=", 1)[1])
        gitadapter.run_git(work, "config", "user.email", _IDENTITY[3].split("=", 1)[1])
    return work


def _sandbox_context(work: Path) -> commands.Context:
    """The sandbox's context: the local forge; no hooks, images or packages (they are real)."""
    ctx = commands.load_context(work, forge="local")
    sandboxed = replace(ctx.config, hooks=HooksConfig(), images=(), python_package=None)
    return replace(ctx, config=sandboxed)


def _step(
    out: Any,
    work: Path,
    step: str,
    args: Any,
    title: str,
    trail: list[dict[str, Any]],
    skip: tuple[str, ...] = (),
) -> tuple[int, str]:
    out.say(f"\n[bold cyan]▶ {title}[/]  [dim]$ rcflow {step}{_argtext(args)}[/]")
    ctx = _sandbox_context(work)
    try:
        # The config's [preflight] waive applies here as in a real run; --skip-check adds to it.
        result = commands.run_step(
            ctx, step, args, dry_run=False, hooks=OutputHooks(out, yes=True), skip=skip
        )
    except BlockedError as err:
        out.error(err)
        trail.append({"step": step, "title": title, "exit_code": int(err.exit_code)})
        return int(err.exit_code), "blocked"
    out.step_result(result, ctx.config)
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
    out: Any,
    *,
    source: Path | None,
    part: str,
    keep: bool,
    trail: list[dict[str, Any]],
    skip: tuple[str, ...] = (),
) -> int:
    """The whole cycle; each step's outcome is appended to trail (the --json document)."""
    sandbox = Path(tempfile.mkdtemp(prefix="rcflow-rehearse-"))
    try:
        if source is None:
            work = _demo_repo(sandbox)
            out.say(f"[bold]rcflow demo[/]: a sample repository in {work}")
            out.say("pyproject.toml says 1.3.0, v1.3.0 is tagged, one `feat:` commit since.")
        else:
            work = _sandbox_of(source, sandbox)
            out.say(
                f"[bold]Rehearsal[/] in {work} (origin: a bare copy; the real remote is untouched)"
            )
        ctx = _sandbox_context(work)
        snap, release = commands.status(ctx)
        out.status(snap, release, ctx.config)

        sequence: list[tuple[str, Any, str]] = [("bump", BumpArgs(part), "bump the version")]
        sequence.append(("rc", RcArgs(), "tag a release candidate"))
        if source is None:
            sequence.append(
                ("promote", PromoteArgs(), "promote before validation (must be refused)")
            )
        sequence += [
            ("validate", ValidateArgs(), "validate the exact RC commit"),
            ("promote", PromoteArgs(), "promote the validated RC"),
        ]
        if source is None:
            sequence.append(("promote", PromoteArgs(), "run promote again (nothing to do)"))
        for step, args, title in sequence:
            code, state = _step(out, work, step, args, title, trail, skip)
            refused_on_purpose = "must be refused" in title
            if refused_on_purpose and code != int(ExitCode.BLOCKED):
                raise RcflowError("the demo expected promote to be refused before validation")
            if code and not refused_on_purpose:
                out.say(f"[red]The rehearsal stopped at {step}[/] (state {state}).")
                return code

        out.say("\n[bold cyan]▶ the audit trail[/]  [dim]$ rcflow log[/]")
        out.log(commands.events(_sandbox_context(work)))
        ctx = _sandbox_context(work)
        snap, release = commands.status(ctx)
        out.say("")
        out.status(snap, release, ctx.config)
        out.say(
            "\n[green]Rehearsal complete[/]: "
            + ("sandbox kept at " + str(sandbox) if keep else "the sandbox is removed.")
        )
        return 0
    finally:
        if not keep:
            shutil.rmtree(sandbox, ignore_errors=True)
