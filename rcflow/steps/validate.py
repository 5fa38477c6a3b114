"""validate: run the configured validations against exactly the latest RC's commit."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from rcflow.config import Config
from rcflow.effects import RunValidations, ValidationSpec
from rcflow.plan import Plan
from rcflow.snapshot import Snapshot
from rcflow.states import State, classify
from rcflow.steps import released_done


@dataclass(frozen=True)
class ValidateArgs:
    rerun: tuple[str, ...] = ()  # names to run again even though they passed for this sha


def plan(s: Snapshot, config: Config, args: ValidateArgs) -> Plan:
    release = classify(s, config)
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
    known = {v.name for v in config.validations}
    unknown = [name for name in args.rerun if name not in known]
    if unknown:
        names = ", ".join(sorted(known)) or "none are configured"
        return new(
            blockers=(f"--rerun {unknown[0]}: no such validation ({names})",),
            subject=subject,
        )
    passed = {r.name for r in latest.results if r.passed}
    # An optional validation that failed already said what it had to say about this sha;
    # only required ones are retried on their own (any one can be retried with --rerun).
    settled = passed | {r.name for r in latest.results if not r.passed and not r.required}
    todo = tuple(
        ValidationSpec(v.name, v.run, v.timeout, v.required)
        for v in config.validations
        if v.name not in settled or v.name in args.rerun
    )
    if not todo and latest.completed:
        return new(
            done=f"every validation already passed for {latest.tag} ({latest.sha[:7]})",
            subject=subject,
        )
    return new(
        effects=(
            RunValidations(
                latest.tag,
                latest.sha,
                str(release.target.with_rc(latest.number)) if release.target else latest.tag,
                todo,
            ),
        ),
        notes=tuple(
            f"{name} already passed for {latest.sha[:7]}: skipped"
            for name in sorted(passed)
            if name not in args.rerun and name in known
        ),
        subject=subject,
    )
