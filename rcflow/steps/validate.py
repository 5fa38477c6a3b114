"""validate: run the configured validations against exactly the latest RC's commit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from rcflow.errors import UsageError
from rcflow.model.config import ValidationConfig
from rcflow.model.ledger import Event, from_iso
from rcflow.model.plan import Plan
from rcflow.model.states import State, pending_dispatches
from rcflow.record import dataclass
from rcflow.steps.base import Facts, Param, StepBase
from rcflow.steps.publishing import released_done

if TYPE_CHECKING:
    from rcflow.model.effects import ValidationSpec


@dataclass(frozen=True)
class ValidateArgs:
    rerun: tuple[str, ...] = ()  # names to run again even though they passed for this sha
    jobs: int | None = None  # commands at once (--jobs); None: the configured validate_jobs


def _spec(v: ValidationConfig, pending: Event | None, source: str | None) -> ValidationSpec:
    from rcflow.model.effects import ValidationSpec

    spec = ValidationSpec(v, config=source)
    if pending is None or v.kind != "workflow":
        return spec
    # Dispatched before and not finished: wait for that run, never dispatch another.
    run_id = pending.data.get("run_id")
    correlation = pending.data.get("correlation")
    return replace(
        spec,
        run_id=int(run_id) if run_id is not None else None,
        correlation=str(correlation) if correlation else None,
        dispatched_at=from_iso(pending.time),
    )


def plan(facts: Facts, args: ValidateArgs) -> Plan:
    from rcflow.model.effects import RunValidations

    s, config, release = facts.snapshot, facts.config, facts.release
    new = partial(Plan, "validate", release.state.value, s.fingerprint())
    latest = release.latest
    if latest is None or release.state not in (State.CANDIDATE, State.REJECTED, State.VALIDATED):
        if done := released_done(release, config):
            return new(done=done)
        return new(blockers=("no release candidate to validate: run `rcflow rc` first",))
    subject = {
        "version": str(release.target),
        "tag": latest.tag,
        "rc": latest.number,
        "sha": latest.sha,
    }
    # The RC's own commit says what validates it: not the working tree, which may hold an
    # uncommitted edit, nor a commit made after the RC (another clone would not have it).
    validations = config.validations if latest.validations is None else latest.validations
    drift = _drift(config.validations, validations, latest.config_source)
    # On a ladder each stage runs its own ([[validate]] stages); every one by default.
    validations = tuple(v for v in validations if v.applies(latest.stage))
    known = {v.name for v in validations}
    unknown = [name for name in args.rerun if name not in known]
    if unknown:
        names = ", ".join(sorted(known)) or "none are configured"
        return new(
            blockers=(f"--rerun {unknown[0]}: no such validation ({names})",),
            notes=drift,
            subject=subject,
        )
    passed = {r.name for r in latest.results if r.counts}
    expired = {r.name for r in latest.results if r.passed and r.expired}
    # An optional validation that failed already said what it had to say about this sha;
    # only required ones are retried on their own (any one can be retried with --rerun).
    settled = passed | {r.name for r in latest.results if not r.passed and not r.required}
    pending = pending_dispatches(s.ledger, latest.tag, latest.sha)
    todo = tuple(
        _spec(v, pending.get(v.name), latest.config_source)
        for v in validations
        if v.name not in settled or v.name in args.rerun or v.name in pending
    )
    if not todo and latest.completed:
        return new(
            done=f"every validation already passed for {latest.tag} ({latest.sha[:7]})",
            notes=drift,
            subject=subject,
        )
    on_github = [v for v in todo if v.kind != "command"]
    if on_github and s.forge != "github":
        return new(
            blockers=(
                f"{on_github[0].name} runs on GitHub ({on_github[0].kind}), but the forge is "
                f'{s.forge}: set forge = "github" and github_repository = "owner/repo" in '
                f"{config.source}",
            ),
            subject=subject,
        )
    notes = [*drift]
    notes += [
        f"{name} already passed for {latest.sha[:7]}: skipped"
        for name in sorted(passed)
        if name not in args.rerun and name in known and name not in pending
    ]
    notes += [
        f"{name} passed longer ago than its max_age: it runs again" for name in sorted(expired)
    ]
    notes += [
        f"{name} was dispatched before"
        + (f" (run {e.data['run_id']})" if e.data.get("run_id") is not None else "")
        + ": waiting for that run, not dispatching another"
        for name, e in sorted(pending.items())
        if name in known
    ]
    return new(
        effects=(
            RunValidations(
                latest.tag,
                latest.sha,
                str(latest.version or release.target.with_rc(latest.number))
                if release.target
                else latest.tag,
                todo,
                args.jobs or config.validate_jobs,
            ),
        ),
        notes=tuple(notes),
        subject=subject,
    )


def _drift(
    work: tuple[ValidationConfig, ...], rc: tuple[ValidationConfig, ...], source: str | None
) -> tuple[str, ...]:
    """A note when the working tree's [[validate]] entries are not the RC's (which run)."""
    if source is None or work == rc:
        return ()
    mine, theirs = {v.name: v for v in work}, {v.name: v for v in rc}
    parts = [
        f"{label} {', '.join(names)}"
        for label, names in (
            ("adds", sorted(set(mine) - set(theirs))),
            ("changes", sorted(n for n in set(mine) & set(theirs) if mine[n] != theirs[n])),
            ("drops", sorted(set(theirs) - set(mine))),
        )
        if names
    ] or ["reorders them"]
    return (
        f"the working tree's [[validate]] differs from {source} ({'; '.join(parts)}): "
        "the RC's validations run, not the working tree's; commit the change and cut a new RC "
        "to validate with it",
    )


class Validate(StepBase[ValidateArgs]):
    name = "validate"
    help = "Run the configured validations against exactly the latest RC's commit."
    params = (
        Param(
            "rerun",
            list[str] | None,
            None,
            "Run this validation again though it passed (repeatable).",
            flags=("--rerun",),
        ),
        Param(
            "jobs",
            int | None,
            None,
            "Run at most N validation commands at once (default: validate_jobs, else all).",
            flags=("--jobs",),
        ),
    )
    # No preflight: validating changes no tag, release or file; it records what it ran.
    checks = ()

    def args(self, values: Mapping[str, Any]) -> ValidateArgs:
        return ValidateArgs(tuple(values["rerun"] or ()), values.get("jobs"))

    def check_args(self, args: ValidateArgs) -> None:
        if args.jobs is not None and args.jobs < 1:
            raise UsageError(f"--jobs {args.jobs}: must be at least 1")

    def resume_args(self, args: ValidateArgs) -> list[str]:
        jobs = ["--jobs", str(args.jobs)] if args.jobs is not None else []
        return [a for n in args.rerun for a in ("--rerun", n)] + jobs

    def plan(self, facts: Facts, args: ValidateArgs) -> Plan:
        return plan(facts, args)


STEP = Validate()
