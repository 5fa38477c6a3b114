"""Deployment validations: the RC's exact commit deployed successfully to a named environment.

The evidence is GitHub's Deployments API, written by whatever deployed (a deploy workflow,
Argo CD, a script): the newest deployment of the sha to the environment, and its latest status.
``success`` passes; ``failure`` or ``error`` fails at once. rcflow waits, with backoff like the
checks validator, while there is no deployment yet, while it is ``pending``, ``queued`` or
``in_progress``, and while the newest is ``inactive`` (the environment moved on to another
deployment: the sha is not what runs there now, though a redeploy may make it so); the timeout
ends the wait, naming what was last seen.
"""

from __future__ import annotations

from typing import Any

from rcflow.engine.validations.command import Outcome, Progress
from rcflow.engine.validations.poll import SCHEDULE, Schedule, seconds
from rcflow.model.effects import ValidationSpec
from rcflow.ports.ci import CI, DeploymentFact

PASSES = frozenset({"success"})
FAILS = frozenset({"failure", "error"})


def _seen(fact: DeploymentFact | None, sha: str, environment: str) -> str:
    """What the last look found, for people: one short phrase."""
    if fact is None:
        return f"no deployment of {sha[:7]} to {environment} yet"
    if fact.state is None:
        return f"deployment {fact.id} to {environment} has no status yet"
    if fact.state == "inactive":
        return f"deployment {fact.id} to {environment} is inactive (a newer deployment replaced it)"
    return f"deployment {fact.id} to {environment} {fact.state}"


def _facts(fact: DeploymentFact | None, environment: str) -> dict[str, Any]:
    if fact is None:
        return {"kind": "deployment", "environment": environment, "deployment_id": None}
    return {
        "kind": "deployment",
        "environment": environment,
        "deployment_id": fact.id,
        "deployment_url": fact.url,
        "state": fact.state,
        "status_url": fact.status_url,
        "environment_url": fact.environment_url,
        "deployed_at": fact.status_at if fact.state in PASSES else None,
        "deployment_created_at": fact.created_at,
    }


def run(
    ci: CI,
    spec: ValidationSpec,
    *,
    sha: str,
    progress: Progress,
    schedule: Schedule = SCHEDULE,
) -> Outcome:
    """Wait until sha's newest deployment to the environment succeeded, failed, or time is up."""
    environment = spec.validation.deployment or ""
    now_fn = ci.clock
    started = now_fn()
    deadline = started + spec.timeout
    waits = schedule.waits()
    last = ""

    def outcome(passed: bool, detail: str, conclusion: str, fact: DeploymentFact | None) -> Outcome:
        progress(spec.name, "passed" if passed else "failed", detail)
        url = None
        if fact is not None:
            url = fact.status_url or fact.url or None
        return Outcome(
            spec.name,
            passed,
            round(max(now_fn() - started, 0.0), 3),
            detail,
            "",
            spec.required,
            kind="deployment",
            url=url,
            conclusion=conclusion,
            facts=_facts(fact, environment),
        )

    while True:
        fact = ci.deployment(sha, environment)
        seen = _seen(fact, sha, environment)
        if seen != last:
            progress(spec.name, "waiting", seen)
            last = seen
        if fact is not None and fact.state in FAILS:
            where = f": {fact.status_url}" if fact.status_url else ""
            return outcome(False, f"{seen}{where}", fact.state or "failure", fact)
        if fact is not None and fact.state in PASSES:
            when = f" at {fact.status_at}" if fact.status_at else ""
            detail = f"{sha[:7]} deployed to {environment}{when} (deployment {fact.id})"
            return outcome(True, detail, "success", fact)
        now = now_fn()
        if now >= deadline:
            return outcome(
                False, f"timed out after {seconds(spec.timeout)}: {seen}", "timed_out", fact
            )
        ci.sleep(waits.take(deadline - now))
