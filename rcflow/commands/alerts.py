"""Alert on a failure, close the alert on a success: plan the alert effects from the failing
run's context and apply them through the executor, like any plan.

The CLI calls these after it has rendered the failure; their outcomes come back as notes (a
failed alert is never a new error).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rcflow.commands import context
from rcflow.model.effects import OpenAlertIssue

if TYPE_CHECKING:
    from rcflow.commands.context import Context
    from rcflow.engine.alerts import Webhook
    from rcflow.engine.executor import Applied
    from rcflow.model.config import Config
    from rcflow.model.effects import Effect
    from rcflow.model.findings import Finding
    from rcflow.model.plan import Plan
    from rcflow.model.states import Release
    from rcflow.model.version import Version

Note = Callable[[str], None]


def on_failure(
    path: Path,
    *,
    message: str,
    blockers: Sequence[str],
    state: str | None,
    resume: str | None,
    run_url: str | None,
    release: Release | None,
    note: Note,
) -> None:
    """Post the failure to the webhook and open (or update) the release line's issue.

    release: the release as the failure left it, when the caller observed it already (else it is
    observed here, and only when an issue is to be written).
    """
    try:
        ctx = context.load_context(path)
    except Exception:
        return  # no repository or no valid config: nothing says where to send an alert
    config = ctx.config
    if not config.notify_webhook_env and not config.notify_issue:
        return  # the common case: decided without loading the alert code
    from rcflow.engine import alerts

    hook = context.webhook(config)
    if config.notify_issue and ctx.forge.name == "github" and release is None:
        try:
            _, release = context.status(ctx)
        except Exception as exc:
            note(f"could not update the alert issue ({type(exc).__name__})")
            config = _without_issue(ctx)
    plan = alerts.failure_plan(
        config,
        ctx.forge.name,
        _line(release),
        message=message,
        blockers=blockers,
        state=state,
        resume=resume,
        run_url=run_url,
        webhook=hook is not None,
    )
    _apply(ctx, plan, hook, note)


def on_success(
    ctx: Context, step: str, release: Release, *, run_url: str | None, note: Note
) -> None:
    """A step that succeeded closes its release line's open alert issue, if there is one."""
    from rcflow.engine import alerts

    plan = alerts.recovery_plan(
        ctx.config, ctx.forge.name, _line(release), step=step, run_url=run_url
    )
    _apply(ctx, plan, None, note)


def _line(release: Release | None) -> Version | None:
    return (release.target or release.last_final) if release is not None else None


def _without_issue(ctx: Context) -> Config:
    from dataclasses import replace

    return replace(ctx.config, notify_issue=False)


def _apply(ctx: Context, plan: Plan, hook: Webhook | None, note: Note) -> list[Applied]:
    for text in plan.notes:
        note(text)
    if not plan.effects:
        return []
    from rcflow.engine.executor import Executor, Ports

    def report(effect: Effect, outcome: str) -> None:
        # Silent when it worked, as before alerts were effects; a failure says why, in a note.
        if outcome.startswith("failed: "):
            note(outcome.removeprefix("failed: "))

    ports = Ports(ctx.git, ctx.forge, webhook=hook)
    # No ledger: an alert reports a run, it is not a release fact.
    return Executor(ports, None, report).apply(plan.effects)


def doctor_alert(ctx: Context, found: Sequence[Finding], run_url: str | None) -> tuple[str, bool]:
    """`doctor --alert`: keep the pipeline alert issue (open or comment while doctor finds an
    error, close it when clean). Returns what was done, for a notice, and whether it worked."""
    from rcflow.engine import alerts

    plan = alerts.doctor_plan(found, run_url)
    [applied] = _apply(ctx, plan, None, lambda text: None)
    outcome = applied.outcome
    if outcome.startswith("failed: "):
        return outcome.removeprefix("failed: "), False
    if isinstance(applied.effect, OpenAlertIssue):
        errors = sum(f.severity == "error" for f in found)
        return f"the pipeline alert issue lists {errors} error(s): {_url(outcome)}", True
    if outcome.startswith("done: "):
        return f"closed the pipeline alert issue: {_url(outcome)}", True
    return "no error and no open pipeline alert issue: nothing to do", True


def _url(outcome: str) -> str:
    return outcome.removeprefix("done: ")
