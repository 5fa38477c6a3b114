"""Where a command meets the user: options, the output, and the one error → exit-code map.

Free of the argument parser, so that the entry point can answer `status` and `log` without
loading it (DESIGN §13); the typer app in `rcflow.cli.app` uses the same pieces for every command.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcflow.errors import (
    BlockedError,
    ExitCode,
    Interrupted,
    RcflowError,
    StoppedError,
    UsageError,
)
from rcflow.record import dataclass

if TYPE_CHECKING:
    from rcflow.cli.output import Output
    from rcflow.commands.context import Context
    from rcflow.commands.run import StepResult
    from rcflow.model.effects import Effect
    from rcflow.model.plan import Plan
    from rcflow.model.states import Release


@dataclass
class Options:
    dry_run: bool = False
    json: bool = False
    yes: bool = False
    path: Path | None = None


class OutputHooks:
    """What a running command asks of the user, answered through the output module."""

    def __init__(self, out: Output, *, yes: bool) -> None:
        self.out = out
        self.yes = yes
        from rcflow.engine import registries as artifacts

        # Trusted publishing mints tokens mid-run: each is masked before anything could print
        # it. Set here, where a run that may publish starts, so `status` never loads the code.
        artifacts.mask_secret = lambda secret: out.mask([secret])

    def confirm(self, plan: Plan) -> bool:
        self.out.plan(plan, dry_run=False)
        return self.yes or self.out.confirm(plan)

    def effect(self, effect: Effect, outcome: str) -> None:
        self.out.effect(effect, outcome)

    def validation(self, name: str, what: str, detail: str) -> None:
        self.out.validation(name, what, detail)

    def note(self, text: str) -> None:
        self.out.note(text)


def output(opts: Options) -> Output:
    from rcflow.cli.output import Output

    out = Output(json_mode=opts.json)
    # Before anything else is printed: a token that came from a step's `env:` rather than a
    # secret is not masked by the runner on its own.
    out.mask(os.environ.get(name, "") for name in ("GITHUB_TOKEN", "GH_TOKEN"))
    return out


def alert_failure(
    opts: Options,
    out: Output,
    message: str,
    blockers: Sequence[str],
    *,
    state: str | None,
    resume: str | None,
    release: Release | None = None,
) -> None:
    """Tell people a command failed: the webhook, and the release line's GitHub issue.

    The alerts are effects the engine applies (`commands.alerts`); this only hands them the
    failing run's context. A failed alert is a note, never a new error.
    """
    from rcflow.commands import alerts

    alerts.on_failure(
        opts.path or Path.cwd(),
        message=message,
        blockers=blockers,
        state=state,
        resume=resume,
        run_url=_run_url(),
        release=release,
        note=out.note,
    )


def report_step(
    opts: Options, out: Output, ctx: Context, result: StepResult, resume: str | None
) -> None:
    """Render a step's result, then alert on a failure or close the alert on a success."""
    out.step_result(result, ctx.config, resume=resume)
    if result.status == "failed":
        from rcflow.model.views import status_view

        view = status_view(result.snapshot, result.release, ctx.config)
        outcomes = [a.outcome for a in result.applied if a.outcome.startswith("failed")]
        alert_failure(
            opts,
            out,
            f"{result.step} {'; '.join(outcomes) or 'failed'}",
            (),
            state=f"{view.state} ({view.subject})" if view.subject else view.state,
            resume=resume,
            release=result.release,
        )
    elif result.status in ("applied", "done") and ctx.config.notify_issue:
        from rcflow.commands import alerts

        alerts.on_success(ctx, result.step, result.release, run_url=_run_url(), note=out.note)


def _run_url() -> str | None:
    run = os.environ.get("GITHUB_RUN_ID")
    repo = os.environ.get("GITHUB_REPOSITORY")
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
    return f"{server}/{repo}/actions/runs/{run}" if run and repo else None


def guard(
    opts: Options,
    out: Output,
    resume: str | None,
    fn: Callable[[], int],
    recheck: Callable[[], tuple[str, ...]] | None = None,
) -> int:
    """The one place errors turn into messages and exit codes (the code each error type carries)."""
    try:
        if opts.path is not None and not opts.path.is_dir():
            raise UsageError(f"-C {opts.path}: no such directory")
        return fn()
    except RcflowError as err:
        state, release = None, None
        if resume and not isinstance(err, UsageError):
            state, release = _after_failure(opts)
        # Refusals changed nothing, so there is nothing to resume; they say what to do instead.
        resumable = state is not None and not isinstance(err, BlockedError) and not err.untouched
        # "resume with" is a promise: when a re-run would be refused, say what to fix first.
        first = recheck() if resumable and recheck is not None else ()
        if first:
            fix = "before re-running, fix: " + "; ".join(first)
            err.hint = f"{err.hint}; {fix}" if err.hint else fix
            resumable = False
        shown = resume if resumable else None
        out.error(err, state=state, resume=shown)
        blockers = err.blockers if isinstance(err, BlockedError) else ()
        alert_failure(opts, out, err.message, blockers, state=state, resume=shown, release=release)
        return int(err.exit_code)
    except KeyboardInterrupt as exc:
        stopped = _stopped(exc)
        state, release = _after_failure(opts)
        out.error(stopped, state=state, resume=resume)
        alert_failure(opts, out, stopped.message, (), state=state, resume=resume, release=release)
        return int(stopped.exit_code)


def _stopped(exc: KeyboardInterrupt) -> StoppedError:
    """SIGINT or SIGTERM: what was running was stopped, the lease released (the step's finally)."""
    import signal

    from rcflow.ports import proc

    signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
    name = signal.Signals(signum).name
    ended = proc.stopped_commands()
    if not ended:
        return StoppedError(f"stopped by {name}: no further effect was applied", signum=signum)
    killed = ended.count("killed")
    when = "at the second signal" if proc.hurried() else f"after the {proc.GRACE:g}s grace"
    what = f"{len(ended)} running command(s) stopped" + (
        f", {killed} killed {when}" if killed else ""
    )
    return StoppedError(f"stopped by {name}: {what}; nothing was recorded for them", signum=signum)


def state_after_failure(opts: Options) -> str | None:
    return _after_failure(opts)[0]


def _after_failure(opts: Options) -> tuple[str | None, Release | None]:
    """The state a failure left, in words, and the release it was read from (one observe)."""
    from rcflow.commands import context

    try:
        ctx = context.load_context(opts.path or Path.cwd())
        _, release = context.status(ctx)
    except Exception:  # the failure itself is what gets reported; a state is a bonus
        return None, None
    target = release.latest.tag if release.latest else release.target or release.last_final
    return (f"{release.state.value} ({target})" if target else release.state.value), release


def github_outputs(opts: Options, out: Output, command: str) -> None:
    """Inside GitHub Actions every command leaves the release's outputs and a summary."""
    if os.environ.get("GITHUB_ACTIONS") != "true":
        return
    from rcflow.commands import context

    try:
        c = context.load_context(opts.path or Path.cwd())
        snap, release = context.status(c)
    except RcflowError:
        return  # e.g. init in a repository without a remote yet: nothing to report
    out.release_outputs(snap, release, c.config, command)


def show_status(opts: Options) -> int:
    out = output(opts)

    def go() -> int:
        from rcflow.commands import context

        c = context.load_context(opts.path or Path.cwd())
        snap, release = context.status(c)
        out.status(snap, release, c.config)
        return 0

    return guard(opts, out, None, go)


# `rcflow log` shows this many events unless told otherwise (`--limit N`, `--all`).
LOG_LIMIT = 50


def show_log(
    opts: Options,
    *,
    all_events: bool = False,
    limit: int | None = None,
    oldest_first: bool = False,
) -> int:
    """The ledger, newest first, a page at a time: `limit` events (default LOG_LIMIT; with
    --all every event, the lease's included, unless limited), printed as git reads them."""
    out = output(opts)

    def go() -> int:
        from rcflow.commands import context

        if limit is not None and limit < 1:
            raise UsageError(f"--limit {limit}: show at least one event (or --all for every one)")
        c = context.load_context(opts.path or Path.cwd())
        page = limit if limit is not None else (None if all_events else LOG_LIMIT)
        shown = context.ledger_page(c, limit=page, leases=all_events, oldest_first=oldest_first)
        out.log(shown, limit=page)
        github_outputs(opts, out, "log")
        return 0

    return guard(opts, out, None, go)


def replan_blockers(
    opts: Options, out: Output, step: str, args: Any, skip: tuple[str, ...]
) -> tuple[str, ...]:
    """What a re-run of step would be refused for right now (empty: re-running can go on).

    A dry run: observes and plans, changes nothing. Any other error says nothing about the
    re-run's preconditions, so it leaves the resume command as it is.
    """
    from rcflow.commands import step as commands
    from rcflow.commands.context import load_context

    try:
        c = load_context(opts.path or Path.cwd())
        hooks = OutputHooks(out, yes=True)  # a dry run never asks or reports
        planned = commands.run_step(c, step, args, dry_run=True, hooks=hooks, skip=skip)
    except BlockedError as exc:
        return exc.blockers or (exc.message,)
    except Exception:
        return ()
    # A dry run reports its blockers in the plan instead of raising them (it shows the plan).
    return tuple(planned.plan.blockers)


def run_url() -> str | None:
    """This GitHub Actions run's page, or None outside Actions."""
    return _run_url()


def show_doctor(opts: Options, *, alert: bool = False) -> int:
    """`rcflow doctor`: every finding, exit 3 on an error; `alert` keeps the pipeline alert issue.

    Without the argument parser, as status: the entry point answers `doctor [--json] [-C DIR]`
    (a scheduled job, a pre-commit hook) with what the checks themselves import.
    """
    out = output(opts)

    def go() -> int:
        from rcflow.commands import context

        # A clone off GitHub still gets every other check (the --alert writes to GitHub).
        c = context.load_doctor_context(opts.path or Path.cwd(), strict=alert)
        # After: the checks' modules would load the configuration's before git is started.
        from rcflow.commands import doctor as commands

        if alert:
            commands.check_doctor_alert(c)  # refused before anything is read or written
        found = commands.doctor(c)
        out.findings(found)
        github_outputs(opts, out, "doctor")
        blocked = any(f.severity == "error" for f in found)
        if alert:
            from rcflow.commands import alerts

            said, kept = alerts.doctor_alert(c, found, run_url())
            out.notice(said)
            if not kept:
                # The findings are out already; the alert that did not reach GitHub is what failed.
                return int(ExitCode.FAILED)
        return int(ExitCode.BLOCKED if blocked else ExitCode.OK)

    return guard(opts, out, None, go)
