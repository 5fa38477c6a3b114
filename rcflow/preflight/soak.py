"""Soak: a pre-release stays out for its stage's `soak` before it is promoted on (issue 15).

The clock starts at the stage's tag event in the ledger (`states.soak_started`), so every clone
reads the same time left; `--skip-check soak` waives it, and the waiver is recorded.
"""

from __future__ import annotations

from rcflow.model.config import format_duration
from rcflow.model.effects import CreateTag
from rcflow.model.findings import Finding
from rcflow.model.states import soak_left
from rcflow.preflight.facts import PreflightFacts

ID = "soak"


def check(f: PreflightFacts) -> list[Finding]:
    plan = f.plan
    if (
        plan is None
        or plan.step != "promote"
        or not any(isinstance(e, CreateTag) for e in plan.effects)
    ):
        return []  # only a promotion about to tag is held back; finishing one never is
    source = str(plan.subject.get("rc_tag") or "")
    c = next((c for c in f.release.candidates if c.tag == source), None)
    if c is None:
        return []
    left = soak_left(f.snapshot, f.config, c)
    if left is None or left == 0:
        return []
    fix = "wait, or waive it for this run with --skip-check soak (recorded in the ledger)"
    if left < 0:
        message = f"the ledger does not say when {source} was cut: its soak cannot be measured"
    else:
        message = f"{source} is soaking at {c.stage}: {format_duration(left)} left"
    return [Finding(ID, "error", message, fix, steps=frozenset({"promote"}))]
