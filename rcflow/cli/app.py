"""The command line: parse, build the context, call a command, render. Nothing else.

Every error becomes an exit code in one place (`rcflow.cli.guard.guard`), from the code its type
carries. The entry point (`rcflow.cli.main`) answers plain `status` and `log` without this module.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from rcflow import __version__
from rcflow.cli.guard import (
    Options,
    OutputHooks,
    github_outputs,
    guard,
    output,
    replan_blockers,
    resolve_alert,
    run_url,
    show_log,
    show_status,
)
from rcflow.errors import ExitCode, RcflowError, UsageError

app = typer.Typer(
    name="rcflow",
    help="Release-candidate orchestration: bump → rc → validate → promote, or roll back.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
Dir = Annotated[
    Path | None, typer.Option("-C", help="Run as if started in this directory.", show_default=False)
]
BreakLease = Annotated[
    bool, typer.Option("--break-lease", help="Take the release lease from a run that is dead.")
]
SkipCheck = Annotated[
    list[str] | None,
    typer.Option(
        "--skip-check",
        help="Waive a preflight finding by ID or ID@FILE (repeatable); the waiver goes in the "
        "ledger. [preflight] waive in the config waives for good.",
    ),
]
PlanFile = Annotated[
    Path | None,
    typer.Option(
        "--plan-file",
        help="With --dry-run, save the plan; without, apply only if the world still matches it.",
    ),
]


def _options(
    ctx: typer.Context, dry_run: bool, json: bool, yes: bool, path: Path | None
) -> Options:
    """Options may come before or after the command name; either place counts."""
    base: Options = ctx.obj if isinstance(ctx.obj, Options) else Options()
    return Options(
        dry_run=dry_run or base.dry_run,
        json=json or base.json,
        yes=yes or base.yes,
        path=path or base.path,
    )


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rcflow {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    dry_run: DryRun = False,
    json: Json = False,
    yes: Yes = False,
    path: Dir = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    ctx.obj = Options(dry_run, json, yes, path)


def _resume(step: str, extra: Sequence[str], opts: Options) -> str:
    argv = ["rcflow", step, *extra, "--yes"]
    if opts.path:
        argv += ["-C", str(opts.path)]
    return shlex.join(argv)


def _step(
    ctx: typer.Context,
    step: str,
    args: Any,
    extra: Sequence[str],
    dry_run: bool,
    json: bool,
    yes: bool,
    path: Path | None,
    break_lease: bool = False,
    plan_file: Path | None = None,
    check: Callable[[], object] | None = None,
    skip: Sequence[str] | None = None,
) -> None:
    opts = _options(ctx, dry_run, json, yes, path)
    out = output(opts)
    resume = _resume(step, extra, opts)

    def go() -> int:
        from rcflow.commands import run as commands

        if check is not None:
            check()  # arguments the parser cannot judge: a usage error, not a refusal

        c = commands.load_context(opts.path or Path.cwd())
        hooks = OutputHooks(out, yes=opts.yes)
        result = commands.run_step(
            c,
            step,
            args,
            dry_run=opts.dry_run,
            hooks=hooks,
            break_lease=break_lease,
            plan_file=plan_file,
            skip=tuple(skip or ()),
            resume=resume,
        )
        out.step_result(result, c.config, resume=resume)
        if result.status in ("applied", "done") and c.config.notify_issue:
            resolve_alert(opts, out, step)
        if result.status == "planned" and result.plan.blockers:
            return int(ExitCode.BLOCKED)  # a dry run that shows what would refuse the step
        return int(ExitCode.FAILED if result.status in ("failed", "declined") else ExitCode.OK)

    def recheck() -> tuple[str, ...]:
        return replan_blockers(opts, out, step, args, tuple(skip or ()))

    raise typer.Exit(guard(opts, out, resume, go, recheck))


@app.command()
def init(
    ctx: typer.Context,
    forge: Annotated[
        str | None, typer.Option("--forge", help="local or github (default: detected from origin).")
    ] = None,
    branch: Annotated[
        str | None, typer.Option("--branch", help="The release branch (default: detected).")
    ] = None,
    tag_prefix: Annotated[
        str | None,
        typer.Option("--tag-prefix", help="Tag prefix (default: as the existing tags, or v)."),
    ] = None,
    workflow_name: Annotated[
        str | None,
        typer.Option(
            "--workflow-name",
            help="The release workflow's file name (default: release.yml, or rcflow-release.yml "
            "when the project has its own release.yml).",
        ),
    ] = None,
    no_workflows: Annotated[
        bool, typer.Option("--no-workflows", help="Write the configuration only.")
    ] = False,
    setup: Annotated[
        str,
        typer.Option("--setup", help="A command the validation workflow runs first (toolchain)."),
    ] = "",
    validation: Annotated[
        list[str] | None,
        typer.Option("--validate", help="A validation as NAME=COMMAND (repeatable)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace files that differ.")] = False,
    action: Annotated[
        str | None,
        typer.Option(
            "--action", help="Run rcflow in the workflows through its action, OWNER/rcflow@SHA."
        ),
    ] = None,
    rcflow_requirement: Annotated[
        str | None,
        typer.Option(
            "--rcflow-requirement",
            help="What the workflows pip-install: rcflow==X.Y.Z or a VCS URL pinned to a commit.",
        ),
    ] = None,
    dry_run: DryRun = False,
    json: Json = False,
    yes: Yes = False,
    path: Dir = None,
) -> None:
    """Write rcflow.toml and a safe GitHub Actions release workflow (--force to replace files)."""
    opts = _options(ctx, dry_run, json, yes, path)
    out = output(opts)

    def go() -> int:
        from rcflow.commands import run as commands
        from rcflow.commands.init import InitOptions

        pairs = []
        for item in validation or ():
            name, sep, command = item.partition("=")
            if not sep or not name.strip() or not command.strip():
                raise UsageError(f"--validate {item!r}: expected NAME=COMMAND")
            pairs.append((name.strip(), command.strip()))
        chosen = branch
        prefix = tag_prefix
        if out.interactive and not opts.yes and not opts.json:
            # On a terminal init asks what it cannot know; flags answer the same in CI.
            found = commands.init_facts(opts.path or Path.cwd())
            chosen = chosen or out.ask("Release branch", str(found["default_branch"]))
            if prefix is None and not found["config"]:
                detected = found["tag_prefix"]
                prefix = out.ask(
                    "Tag prefix (tags look like PREFIX1.4.0; '-' for none)",
                    "-" if detected == "" else (detected or "v"),
                )
                prefix = "" if prefix == "-" else prefix
            if not pairs and not found["config"]:
                default = "pytest -q" if found["has_tests"] else ""
                command = out.ask("Command that validates an RC (empty: none)", default)
                if command:
                    pairs.append(("tests", command))
        options = InitOptions(
            forge=forge,
            branch=chosen,
            tag_prefix=prefix,
            validate=tuple(pairs),
            workflow_name=workflow_name,
            workflows=not no_workflows,
            setup=setup,
            action=action,
            rcflow_requirement=rcflow_requirement,
        )
        result = commands.run_init(
            opts.path or Path.cwd(),
            options,
            force=force,
            dry_run=opts.dry_run,
            hooks=OutputHooks(out, yes=opts.yes),
        )
        out.init_result(result)
        github_outputs(opts, out, "init")
        return int(ExitCode.FAILED if result.status == "declined" else ExitCode.OK)

    raise typer.Exit(guard(opts, out, None, go))


@app.command()
def status(ctx: typer.Context, json: Json = False, path: Dir = None) -> None:
    """Show the last release, the release in flight, its RCs and validations, and what is next."""
    raise typer.Exit(show_status(_options(ctx, False, json, False, path)))


@app.command()
def bump(
    ctx: typer.Context,
    part: Annotated[
        str, typer.Argument(help="major, minor, patch, auto (from conventional commits) or X.Y.Z.")
    ] = "auto",
    dry_run: DryRun = False,
    json: Json = False,
    yes: Yes = False,
    path: Dir = None,
    break_lease: BreakLease = False,
    plan_file: PlanFile = None,
    skip_check: SkipCheck = None,
) -> None:
    """Write the next version into every version file in one commit, and push it."""
    from rcflow.steps.bump import BumpArgs

    def check() -> None:
        if part not in ("major", "minor", "patch", "auto"):
            from rcflow.model.version import resolve_target

            resolve_target(part, None, None)  # raises VersionError (usage) unless X.Y.Z

    _step(
        ctx,
        "bump",
        BumpArgs(part),
        [part],
        dry_run,
        json,
        yes,
        path,
        break_lease,
        plan_file,
        check=check,
        skip=skip_check,
    )


@app.command()
def rc(
    ctx: typer.Context,
    dry_run: DryRun = False,
    json: Json = False,
    yes: Yes = False,
    path: Dir = None,
    break_lease: BreakLease = False,
    plan_file: PlanFile = None,
    skip_check: SkipCheck = None,
) -> None:
    """Tag the release commit vX.Y.Z-rc.N and push the tag."""
    from rcflow.steps.rc import RcArgs

    _step(
        ctx,
        "rc",
        RcArgs(),
        [],
        dry_run,
        json,
        yes,
        path,
        break_lease,
        plan_file,
        skip=skip_check,
    )


@app.command()
def validate(
    ctx: typer.Context,
    rerun: Annotated[
        list[str] | None,
        typer.Option("--rerun", help="Run this validation again though it passed (repeatable)."),
    ] = None,
    dry_run: DryRun = False,
    json: Json = False,
    yes: Yes = False,
    path: Dir = None,
    break_lease: BreakLease = False,
    plan_file: PlanFile = None,
) -> None:
    """Run the configured validations against exactly the latest RC's commit."""
    from rcflow.steps.validate import ValidateArgs

    names = tuple(rerun or ())
    extra = [a for n in names for a in ("--rerun", n)]
    _step(
        ctx,
        "validate",
        ValidateArgs(names),
        extra,
        dry_run,
        json,
        yes,
        path,
        break_lease,
        plan_file,
    )


@app.command()
def promote(
    ctx: typer.Context,
    dry_run: DryRun = False,
    json: Json = False,
    yes: Yes = False,
    path: Dir = None,
    break_lease: BreakLease = False,
    plan_file: PlanFile = None,
    skip_check: SkipCheck = None,
) -> None:
    """Tag the validated RC's commit vX.Y.Z and push it; refused unless validation passed."""
    from rcflow.steps.promote import PromoteArgs

    _step(
        ctx,
        "promote",
        PromoteArgs(),
        [],
        dry_run,
        json,
        yes,
        path,
        break_lease,
        plan_file,
        skip=skip_check,
    )


@app.command()
def rollback(
    ctx: typer.Context,
    what: Annotated[
        str | None,
        typer.Argument(help="The tag or version to undo; re-running with it is a no-op once done."),
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the ledger.")] = "",
    delete_tag: Annotated[
        bool,
        typer.Option("--delete-tag", help="Retracting a release: delete its tag too."),
    ] = False,
    dry_run: DryRun = False,
    json: Json = False,
    yes: Yes = False,
    path: Dir = None,
    break_lease: BreakLease = False,
    plan_file: PlanFile = None,
    skip_check: SkipCheck = None,
) -> None:
    """Undo the newest transition: retract a release, withdraw an RC, or revert a bump."""
    from rcflow.steps.rollback import RollbackArgs

    args = RollbackArgs(what=what, reason=reason, delete_tag=delete_tag)
    planned_what = what
    extra = [planned_what] if planned_what else []
    if delete_tag:
        extra.append("--delete-tag")
    _step(
        ctx,
        "rollback",
        args,
        extra,
        dry_run,
        json,
        yes,
        path,
        break_lease,
        plan_file,
        skip=skip_check,
    )


@app.command()
def doctor(
    ctx: typer.Context,
    alert: Annotated[
        bool,
        typer.Option(
            "--alert",
            help="Keep the pipeline alert issue ([notify] issue): open or update it on an error, "
            "close it when clean.",
        ),
    ] = False,
    json: Json = False,
    path: Dir = None,
) -> None:
    """Preflight: every finding that would break a release, with file:line and the fix."""
    opts = _options(ctx, False, json, False, path)
    out = output(opts)

    def go() -> int:
        from rcflow.commands import run as commands

        # A clone off GitHub still gets every other check (the --alert writes to GitHub).
        c = commands.load_doctor_context(opts.path or Path.cwd(), strict=alert)
        if alert:
            commands.check_doctor_alert(c)  # refused before anything is read or written
        found = commands.doctor(c)
        out.findings(found)
        github_outputs(opts, out, "doctor")
        blocked = any(f.severity == "error" for f in found)
        if alert:
            try:
                out.notice(commands.doctor_alert(c, found, run_url()))
            except RcflowError as exc:
                # The findings are out already; the alert that did not reach GitHub is what failed.
                out.notice(f"could not update the pipeline alert issue: {exc}")
                return int(ExitCode.FAILED)
        return int(ExitCode.BLOCKED if blocked else ExitCode.OK)

    raise typer.Exit(guard(opts, out, None, go))


@app.command()
def log(
    ctx: typer.Context,
    json: Json = False,
    path: Dir = None,
    all_events: Annotated[
        bool, typer.Option("--all", help="Show the lease events too (hidden by default).")
    ] = False,
) -> None:
    """Print the ledger: who did what, when, on which commit, with which outcome."""
    raise typer.Exit(show_log(_options(ctx, False, json, False, path), all_events=all_events))


@app.command()
def rehearse(
    ctx: typer.Context,
    demo: Annotated[
        bool, typer.Option("--demo", help="Rehearse on a generated sample repository.")
    ] = False,
    part: Annotated[str, typer.Option("--bump", help="What to bump.")] = "auto",
    keep: Annotated[bool, typer.Option("--keep", help="Keep the sandbox for inspection.")] = False,
    json: Json = False,
    path: Dir = None,
    skip_check: SkipCheck = None,
) -> None:
    """Run a whole release cycle in a throwaway sandbox; the real remote is untouched."""
    opts = _options(ctx, False, json, True, path)
    out = output(opts)

    def go() -> int:
        from rcflow.commands import rehearse as rehearsal

        trail: list[dict[str, Any]] = []
        inner = out
        if opts.json:
            inner = output(Options(json=True))
            inner.silent = True
        code = rehearsal.run(
            inner,
            source=None if demo else (opts.path or Path.cwd()),
            part=part,
            keep=keep,
            trail=trail,
            skip=tuple(skip_check or ()),
        )
        if opts.json:
            out.document({"rehearsal": "complete" if code == 0 else "stopped", "steps": trail})
        return code

    raise typer.Exit(guard(opts, out, None, go))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the app; every command ends in typer.Exit carrying the code `guard` chose."""
    args = list(argv) if argv is not None else sys.argv[1:]
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="rcflow", standalone_mode=False)
    except Exception as exc:
        # The parser's own errors (an unknown option, a missing argument). typer vendors click in
        # some versions and not in others, so they are recognised by what they can do.
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        describe = getattr(exc, "format_message", None)
        if not callable(show) or not callable(describe) or not isinstance(code, int):
            if type(exc).__name__ == "Abort":  # Ctrl-C or EOF at a prompt (or SIGTERM)
                from rcflow.ports.proc import stopping

                return 128 + (stopping() or 2)
            raise
        if "--json" in args:
            output(Options(json=True)).error(UsageError(str(describe())))
        else:
            show()
        return code
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    os._exit(main())
