"""Where a command meets the user: options, the output, and the one error → exit-code map.

Free of the argument parser, so that the entry point can answer `status` and `log` without
loading it (DESIGN §13); the typer app in `rcflow.cli.app` uses the same pieces for every command.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcflow.errors import BlockedError, Interrupted, RcflowError, StoppedError, UsageError

if TYPE_CHECKING:
    from rcflow.cli.output import Output
    from rcflow.model.effects import Effect
    from rcflow.model.plan import Plan


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
    from rcflow.engine import registries as artifacts

    # Trusted publishing mints tokens mid-run: each is masked before anything could print it.
    artifacts.mask_secret = lambda secret: out.mask([secret])

    def alert(message: str, blockers: list[str], state: str | None, resume: str | None) -> None:
        send_alert(opts, out, message, blockers, state, resume)

    out.on_failure = alert
    return out


def send_alert(
    opts: Options,
    out: Output,
    message: str,
    blockers: list[str],
    state: str | None,
    resume: str | None,
) -> None:
    """Tell people a step failed: the webhook, and the release line's GitHub issue.

    A failed alert is a note, never a new error: the failure being reported matters more.
    """
    from rcflow.adapters.git import Git
    from rcflow.model.config import load_config

    try:
        root, _ = Git.discover(opts.path or Path.cwd())
        config = load_config(root)
    except (RcflowError, OSError):
        return  # no repository or no valid config: nothing says where to send an alert
    lines = [f"rcflow failed: {message}", *(f"• {b}" for b in blockers)]
    if state:
        lines.append(f"state: {state}")
    if resume:
        lines.append(f"resume with: {resume}")
    run_url = _run_url()
    if run_url:
        lines.append(run_url)
    url = os.environ.get(config.notify_webhook_env) if config.notify_webhook_env else None
    if url:
        try:
            from rcflow.adapters import notify

            notify.post_json(
                url,
                {
                    "text": "\n".join(lines),
                    "rcflow": {
                        "error": message,
                        "blockers": blockers,
                        "state": state,
                        "resume": resume,
                        "run_url": run_url,
                    },
                },
            )
        except Exception as exc:
            out.note(f"could not send the alert ({type(exc).__name__})")
    if config.notify_issue:
        body = "\n".join(f"- {line}" for line in lines[1:])
        _issue(opts, out, lambda forge, title: forge.report_issue(title, f"{message}\n\n{body}"))


def resolve_alert(opts: Options, out: Output, step: str) -> None:
    """A step that succeeded closes its release line's open issue, if there is one."""
    _issue(
        opts,
        out,
        lambda forge, title: forge.resolve_issue(
            title, f"`rcflow {step}` succeeded" + (f": {_run_url()}" if _run_url() else ".")
        ),
        only_if_configured=True,
    )


def _run_url() -> str | None:
    run = os.environ.get("GITHUB_RUN_ID")
    repo = os.environ.get("GITHUB_REPOSITORY")
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
    return f"{server}/{repo}/actions/runs/{run}" if run and repo else None


def _issue(
    opts: Options,
    out: Output,
    act: Callable[[Any, str], object],
    *,
    only_if_configured: bool = False,
) -> None:
    """One issue per release line (1.4, 1.5 …) on the GitHub forge, titled by that line."""
    from rcflow.commands import context

    try:
        ctx = context.load_context(opts.path or Path.cwd())
    except Exception:
        return
    if not ctx.config.notify_issue or ctx.forge.name != "github":
        if ctx.config.notify_issue and not only_if_configured:
            out.note("[notify] issue needs the github forge: no issue was opened")
        return
    try:
        _, release = context.status(ctx)
        version = release.target or release.last_final
        line = f"{version.major}.{version.minor}" if version else "next"
        act(ctx.forge, f"rcflow: the {line} release is failing")
    except Exception as exc:
        out.note(f"could not update the alert issue ({type(exc).__name__})")


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
        state = None
        if resume and not isinstance(err, UsageError):
            state = state_after_failure(opts)
        # Refusals changed nothing, so there is nothing to resume; they say what to do instead.
        resumable = state is not None and not isinstance(err, BlockedError) and not err.untouched
        # "resume with" is a promise: when a re-run would be refused, say what to fix first.
        first = recheck() if resumable and recheck is not None else ()
        if first:
            fix = "before re-running, fix: " + "; ".join(first)
            err.hint = f"{err.hint}; {fix}" if err.hint else fix
            resumable = False
        out.error(err, state=state, resume=resume if resumable else None)
        return int(err.exit_code)
    except KeyboardInterrupt as exc:
        stopped = _stopped(exc)
        out.error(stopped, state=state_after_failure(opts), resume=resume)
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
    from rcflow.commands import context

    try:
        ctx = context.load_context(opts.path or Path.cwd())
        _, release = context.status(ctx)
    except Exception:  # the failure itself is what gets reported; a state is a bonus
        return None
    target = release.latest.tag if release.latest else release.target or release.last_final
    return f"{release.state.value} ({target})" if target else release.state.value


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


# Every mutating run takes and releases the lease: half the ledger. `rcflow log --all` shows them.
LEASE_EVENTS = frozenset({"lease_acquired", "lease_released", "lease_broken"})


def show_log(opts: Options, *, all_events: bool = False) -> int:
    out = output(opts)

    def go() -> int:
        from rcflow.commands import context

        c = context.load_context(opts.path or Path.cwd())
        shown = context.events(c)
        if not all_events:
            shown = tuple(e for e in shown if e.kind not in LEASE_EVENTS)
        out.log(shown)
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
    from rcflow.commands import run as commands

    try:
        c = commands.load_context(opts.path or Path.cwd())
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
