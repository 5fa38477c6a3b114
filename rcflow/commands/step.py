"""A step, run: observe → facts → plan → preflight → (confirm) → lease → apply.

Every step goes through this one path (`rcflow.steps.STEPS` says what differs), so dry-run is
one switch: stop after planning.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, Literal, Protocol

from rcflow.commands.context import Context, preflight_facts
from rcflow.engine import lease
from rcflow.engine.executor import Applied, Executor, LedgerWriter, Ports
from rcflow.engine.observe import observe
from rcflow.engine.validations.command import Outcome
from rcflow.errors import BlockedError, ConflictError, EffectError, RcflowError, UsageError
from rcflow.model.effects import Effect, RecordEvent
from rcflow.model.events import EventKind
from rcflow.model.findings import Finding
from rcflow.model.notes import Renderer
from rcflow.model.plan import Plan
from rcflow.model.snapshot import Snapshot
from rcflow.model.states import Release, classify
from rcflow.ports import templates
from rcflow.preflight import git as git_checks
from rcflow.preflight import run as run_checks
from rcflow.record import dataclass, field
from rcflow.steps import STEPS, Facts, Step


class Hooks(Protocol):
    """What a running command asks of its user interface."""

    def confirm(self, plan: Plan) -> bool: ...

    def effect(self, effect: Effect, outcome: str) -> None: ...

    def validation(self, name: str, what: str, detail: str) -> None: ...

    def note(self, text: str) -> None: ...


@dataclass
class StepResult:
    step: str
    status: Literal["done", "applied", "planned", "declined", "failed"]
    plan: Plan
    release: Release
    snapshot: Snapshot
    applied: list[Applied] = field(default_factory=list)
    results: list[Outcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def facts(ctx: Context, snap: Snapshot) -> Facts:
    """What one run plans from: classified once; the git preflight and the templates handed in."""
    return Facts.of(snap, ctx.config, git_checks.findings, _templates(ctx.config.root))


def _templates(root: Path) -> Renderer:
    """Templates with the repository's overrides (`.rcflow/templates/`)."""

    def render(name: str, context: Mapping[str, Any]) -> str:
        return templates.render(name, context, root=root)

    return render


def _plan(ctx: Context, step: Step[Any], args: Any) -> tuple[Facts, Plan]:
    snap = observe(ctx.git, ctx.config, ctx.forge)
    if snap.forge_error is not None:
        # Planned without the forge's facts, a step would redo releases that exist.
        raise BlockedError(
            f"{step.name} refused: the {snap.forge} forge cannot be read: nothing was changed",
            blockers=(snap.forge_error,),
        )
    known = facts(ctx, snap)
    return known, step.plan(known, args)


def refuse(plan: Plan) -> None:
    if plan.blockers:
        raise BlockedError(f"{plan.step} refused: nothing was changed", blockers=plan.blockers)


def _check_reviewed(plan: Plan, plan_file: Path) -> None:
    try:
        reviewed = json.loads(plan_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: not JSON, or not UTF-8 text
        raise UsageError(f"--plan-file {plan_file}: cannot read a plan: {exc}") from exc
    if not isinstance(reviewed, dict):
        raise UsageError(
            f"--plan-file {plan_file}: not a plan (a JSON {type(reviewed).__name__}); "
            "write one with --dry-run --plan-file"
        )
    if reviewed.get("step") != plan.step:
        raise UsageError(
            f"--plan-file {plan_file}: a plan for {reviewed.get('step')}, not {plan.step}"
        )
    if reviewed.get("fingerprint") != plan.fingerprint:
        raise ConflictError(
            f"the repository changed since the plan in {plan_file} was made: nothing was applied",
            untouched=True,
            hint=f"review a new plan: rcflow {plan.step} --dry-run --plan-file {plan_file}",
        )


def run_step(
    ctx: Context,
    step: str,
    args: Any,
    *,
    dry_run: bool,
    hooks: Hooks,
    break_lease: bool = False,
    plan_file: Path | None = None,
    skip: Sequence[str] = (),
    resume: str | None = None,
) -> StepResult:
    the_step = STEPS[step]
    known, plan = _plan(ctx, the_step, args)
    snap, release = known.snapshot, known.release
    if plan_file is not None and not dry_run:
        _check_reviewed(plan, plan_file)
    plan = _needs_identity(snap, plan)
    if not dry_run:
        refuse(plan)
    plan, blocking = preflight(ctx, the_step, known, plan, skip)
    if dry_run and (plan.blockers or blocking):
        # A dry run shows the whole plan and every reason it would be refused (exit 3).
        blockers = (*plan.blockers, *(f"{f.id}: {f.line()}" for f in blocking))
        return StepResult(step, "planned", replace(plan, blockers=blockers), release, snap)
    if blocking:
        raise BlockedError(
            f"{step} refused by preflight: nothing was changed",
            blockers=tuple(f"{f.id}: {f.line()}" for f in blocking),
            hint="`rcflow doctor` lists every finding; --skip-check ID (or ID@FILE) waives one "
            "for this run, [preflight] waive in the config for good",
        )
    if plan.empty:
        return StepResult(step, "done", plan, release, snap)
    if dry_run:
        if plan_file is not None:
            try:
                plan_file.write_text(plan.dumps() + "\n", encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"--plan-file {plan_file}: cannot write the plan: {exc}") from exc
        return StepResult(step, "planned", plan, release, snap)
    if not hooks.confirm(plan):
        return StepResult(step, "declined", plan, release, snap)

    ports = Ports(ctx.git, ctx.forge, hooks.validation, ctx.registry, ctx.index)
    for attempt in range(3):
        writer, note = lease.take(
            ctx.git,
            ctx.config,
            snap,
            plan,
            ctx.me,
            ttl=the_step.lease_ttl(ctx.config, plan),
            break_lease=break_lease,
        )
        if note:
            hooks.note(note)
        waiting: list[tuple[Effect, str]] = []
        executor = Executor(ports, writer, partial(_report, hooks, writer, waiting))
        outrun = False
        try:
            # A failed validation is in the ledger already (validation_failed); an effect that
            # raised is not, so it is recorded as a failed attempt with how to resume it.
            applied = executor.apply(
                plan.effects, close=partial(lease.release_lease, writer, defer=True)
            )
        except BaseException as exc:
            # The push that carried the lease was refused: another run appended first, and
            # nothing of this one landed or was done. Look again, as before taking a lease.
            outrun = lease.outrun(writer, exc)
            if outrun and attempt == 2:
                raise ConflictError(
                    "the ledger kept changing: nothing was applied",
                    untouched=True,
                    hint=f"rcflow {step}",
                ) from exc
            if not outrun:
                if not lease.released(writer):
                    reason = exc.message if isinstance(exc, RcflowError) else type(exc).__name__
                    record_failure(writer, step, plan, reason, resume)
                raise
        finally:
            lost = None
            if not outrun:
                if lease.taken(writer) or lease.released(writer):
                    _shown(hooks, waiting)  # on the remote: before what the release says
                lost = _give_back(writer, hooks)
                _shown(hooks, waiting)
        if not outrun:
            break
        snap = observe(ctx.git, ctx.config, ctx.forge)
        lease.again(snap, plan, ctx.me, lambda again: the_step.plan(facts(ctx, again), args))
    if lost is not None:
        raise lost
    # One ledger read per step: the writer holds the ledger as its last append left it.
    held = (writer.tip, tuple(writer.events)) if writer.tip else None
    after = observe(ctx.git, ctx.config, ctx.forge, with_commits=False, ledger=held)
    failed = any(a.outcome.startswith("failed") for a in applied)
    return StepResult(
        step,
        "failed" if failed else "applied",
        plan,
        classify(after, ctx.config),
        after,
        applied,
        executor.results,
    )


def preflight(
    ctx: Context, step: Step[Any], known: Facts, plan: Plan, skip: Sequence[str]
) -> tuple[Plan, list[Finding]]:
    """The plan with its waivers recorded, and the error findings that refuse this step.

    The step's own `checks` run (none: no preflight). An error that cannot break this step
    (`Finding.steps`) is a note on the plan, not a blocker; one waived by `--skip-check` or by
    `[preflight] waive` in the config goes ahead and the waiver is recorded in the ledger with
    the run.
    """
    if not step.checks or plan.empty:
        return plan, []
    found, fixed = run_checks(
        step.checks, preflight_facts(ctx, known.snapshot, known.release, plan)
    )
    blocking: list[Finding] = []
    notes: list[str] = []
    waivers: list[RecordEvent] = []
    for f in found:
        if f.severity != "error":
            continue
        if not f.breaks(step.name):
            where = f" in {f.file}" if f.file else ""
            notes.append(
                f"not blocking {step.name}: {f.id}{where} cannot break it (see rcflow doctor)"
            )
            continue
        by_flag, by_config = f.waived_by(skip), f.waived_by(ctx.config.preflight_waive)
        if by_flag is None and by_config is None:
            blocking.append(f)
            continue
        waivers.append(
            RecordEvent(
                EventKind.CHECK_WAIVED,
                f"{f.id}@{f.where or '-'}",
                {
                    "step": step.name,
                    "message": f.message,
                    "version": plan.subject.get("version"),
                    "by": f"--skip-check {by_flag}"
                    if by_flag
                    else f"{ctx.config.source} [preflight] waive {by_config}",
                },
            )
        )
    # Never waived (see preflight.forge).
    blocking += fixed
    if not waivers and not notes:
        return plan, blocking
    return replace(plan, effects=(*waivers, *plan.effects), notes=(*plan.notes, *notes)), blocking


def _report(
    hooks: Hooks, writer: LedgerWriter, held: list[tuple[Effect, str]], effect: Effect, outcome: str
) -> None:
    """Report an effect's outcome; one that only recorded an event while the run's lease is not
    on the remote yet waits for it (for `_shown`): a run outrun there did nothing at all."""
    if effect.reach() == "ledger" and not (lease.taken(writer) or lease.released(writer)):
        held.append((effect, outcome))
        return
    _shown(hooks, held)
    hooks.effect(effect, outcome)


def _shown(hooks: Hooks, held: list[tuple[Effect, str]]) -> None:
    for effect, outcome in held:
        hooks.effect(effect, outcome)
    held.clear()


def _give_back(writer: LedgerWriter, hooks: Hooks) -> EffectError | None:
    """Release the lease, pushing the step's last events with it; the error if they were lost.

    Those events ride with the release (one push): when the remote refuses it, the effects are
    done but not recorded, which is a failed step (exit 1, resume), not a note. Nothing to do
    when the release rode with the step's last effect, or when the lease never reached the
    remote and nothing was recorded (every effect skipped, or failed before its push).
    """
    if lease.released(writer):
        return None  # with the step's last effect
    carried = [e for e in writer.pending if e.kind not in _TAKING]
    taken = lease.taken(writer)
    if not taken and not carried:
        # The lease never reached the remote and the run recorded nothing: nothing to give back.
        writer.undo((0, len(writer.events) - len(writer.pending), None))
        return None
    try:
        lease.release_lease(writer)
    except RcflowError as exc:
        if taken:
            hooks.note(f"could not release the lease ({exc.message}); it expires by itself")
        if carried:
            kinds = ", ".join(dict.fromkeys(e.kind for e in carried))
            return EffectError(f"the ledger did not take {kinds}: {exc.message}")
    return None


def record_failure(
    writer: LedgerWriter, step: str, plan: Plan, reason: str, resume: str | None
) -> None:
    """A failed attempt goes in the ledger (step, reason, how to resume); best effort, since the
    failure may be the remote itself. Refusals are not recorded: they change nothing (README)."""
    subject = plan.subject.get("tag") or plan.subject.get("version") or "-"
    data = {"step": step, "reason": reason, "resume": resume, "subject": subject}
    with contextlib.suppress(Exception):
        # Pushed with the lease's release that always follows.
        writer.append(EventKind.STEP_FAILED, f"{step}/{subject}", data, defer=True)


def _needs_identity(snap: Snapshot, plan: Plan) -> Plan:
    """Every step that changes something appends to the ledger (its lease, at least): a commit.

    Without a git identity that append fails after the lease was pushed; refuse first, like the
    steps whose own checks ask for it (bump, rc).
    """
    if plan.empty or snap.identity or any(b.startswith(_NO_IDENTITY) for b in plan.blockers):
        return plan
    line = f"{_NO_IDENTITY} to record the ledger's events with"
    fix = 'git config user.name "…" && git config user.email "…"'
    return replace(plan, blockers=(*plan.blockers, f"{line} ({fix})"))


_NO_IDENTITY = "git has no identity"

# A run's taking of the lease: events that record nothing done (`_give_back`).
_TAKING = (EventKind.LEASE_ACQUIRED, EventKind.LEASE_BROKEN, EventKind.LEASE_RELEASED)
