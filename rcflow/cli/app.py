"""The command line: parse, build the context, call a command, render. Nothing else.

Every error becomes an exit code in one place (`rcflow.cli.guard.guard`), from the code its type
carries. The entry point (`rcflow.cli.main`) answers plain `status` and `log` without this module.
"""

from __future__ import annotations

import inspect
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
    report_step,
    show_doctor,
    show_log,
    show_status,
)
from rcflow.errors import ExitCode, UsageError
from rcflow.steps import STEPS, Step

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
    step: Step[Any],
    args: Any,
    dry_run: bool,
    json: bool,
    yes: bool,
    path: Path | None,
    break_lease: bool = False,
    plan_file: Path | None = None,
    skip_check: Sequence[str] | None = None,
) -> None:
    opts = _options(ctx, dry_run, json, yes, path)
    out = output(opts)
    resume = _resume(step.name, step.resume_args(args), opts)
    skip = tuple(skip_check or ())

    def go() -> int:
        # The step's own module, not `commands.run`: that also loads init's and doctor's.
        from rcflow.commands import step as commands
        from rcflow.commands.context import load_context

        step.check_args(args)  # arguments the parser cannot judge: a usage error, not a refusal
        c = load_context(opts.path or Path.cwd())
        hooks = OutputHooks(out, yes=opts.yes)
        result = commands.run_step(
            c,
            step.name,
            args,
            dry_run=opts.dry_run,
            hooks=hooks,
            break_lease=break_lease,
            plan_file=plan_file,
            skip=skip,
            resume=resume,
        )
        report_step(opts, out, c, result, resume)
        if result.status == "planned" and result.plan.blockers:
            return int(ExitCode.BLOCKED)  # a dry run that shows what would refuse the step
        return int(ExitCode.FAILED if result.status in ("failed", "declined") else ExitCode.OK)

    def recheck() -> tuple[str, ...]:
        return replan_blockers(opts, out, step.name, args, skip)

    raise typer.Exit(guard(opts, out, resume, go, recheck))


# The options every step command takes after its own, in this order (`--skip-check` only where
# the step runs a preflight to waive findings of).
_STEP_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("dry_run", DryRun, False),
    ("json", Json, False),
    ("yes", Yes, False),
    ("path", Dir, None),
    ("break_lease", BreakLease, False),
    ("plan_file", PlanFile, None),
    ("skip_check", SkipCheck, None),
)


def _step_command(step: Step[Any]) -> Callable[..., None]:
    """The command for a step: its own parameters (`Step.params`), then the common options."""

    def command(ctx: typer.Context, **values: Any) -> None:
        common = {name: values.pop(name, default) for name, _, default in _STEP_OPTIONS}
        _step(ctx, step, step.args(values), **common)

    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter("ctx", kind, annotation=typer.Context)]
    for p in step.params:
        info = typer.Option(*p.flags, help=p.help) if p.flags else typer.Argument(help=p.help)
        params.append(
            inspect.Parameter(p.name, kind, default=p.default, annotation=Annotated[p.type, info])
        )
    params += [
        inspect.Parameter(name, kind, default=default, annotation=annotation)
        for name, annotation, default in _STEP_OPTIONS
        if name != "skip_check" or step.checks
    ]
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__doc__ = step.help
    command.__name__ = step.name
    return command


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


for _each in STEPS.values():  # bump, rc, validate, promote, rollback
    app.command(name=_each.name)(_step_command(_each))


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
    raise typer.Exit(show_doctor(_options(ctx, False, json, False, path), alert=alert))


@app.command()
def log(
    ctx: typer.Context,
    json: Json = False,
    path: Dir = None,
    all_events: Annotated[
        bool,
        typer.Option(
            "--all", help="Every event, the lease's included (hidden by default), no limit."
        ),
    ] = False,
    limit: Annotated[
        int | None,
        typer.Option("--limit", "-n", help="Show the newest N events (default 50).", min=1),
    ] = None,
    oldest_first: Annotated[
        bool, typer.Option("--oldest-first", help="Oldest event first (default: newest).")
    ] = False,
) -> None:
    """Print the ledger: who did what, when, on which commit, with which outcome."""
    opts = _options(ctx, False, json, False, path)
    raise typer.Exit(show_log(opts, all_events=all_events, limit=limit, oldest_first=oldest_first))


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
        from rcflow.cli.rehearsal import rehearse as rehearsal

        skip = tuple(skip_check or ())
        return rehearsal(opts, out, demo=demo, part=part, keep=keep, skip=skip)

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
