"""Workflow validations: a GitHub Actions workflow dispatched on the RC tag, waited for.

The order of things is what makes it safe to run again:

1. ``validation_dispatching`` (with a fresh correlation id) is recorded *before* the dispatch,
2. the workflow is dispatched with the inputs ``tag`` and ``rcflow_run_id`` (the correlation id,
   which the workflow's ``run-name`` carries); GitHub answers with the run's id where the API
   supports ``return_run_details``, otherwise the run is found by its sha, event and id,
3. ``validation_dispatched`` (with the run id) is recorded before the wait begins,
4. the run is polled, with backoff, until it completes or the timeout passes.

A dispatch GitHub refuses (a token without ``actions: write``, a workflow that does not exist)
is recorded as ``validation_not_dispatched``: an error to fix, not a verdict on the RC. A run
interrupted anywhere after 1 re-attaches to what the ledger holds (the run id, else the
correlation id) and never dispatches a second run. Any conclusion but ``success`` fails, and so
do a run that never appears and one still waiting when the timeout passes; each with its reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from rcflow.engine.validations.command import Outcome, Progress
from rcflow.engine.validations.poll import SCHEDULE, Schedule, seconds
from rcflow.errors import RcflowError
from rcflow.model.config import WORKFLOW_INPUTS
from rcflow.model.effects import ValidationSpec
from rcflow.model.events import EventKind
from rcflow.ports.ci import CI, NotDispatched, RunFact

Record = Callable[[str, Mapping[str, Any]], None]  # (event kind, data): one ledger event

_WAITING = ("queued", "waiting", "requested", "pending")


def new_correlation() -> str:
    return uuid.uuid4().hex[:16]


def run(
    ci: CI,
    spec: ValidationSpec,
    *,
    tag: str,
    sha: str,
    record: Record,
    progress: Progress,
    schedule: Schedule = SCHEDULE,
    correlation_id: Callable[[], str] = new_correlation,
) -> Outcome:
    """Dispatch (or re-attach to) spec's workflow run on tag and wait for its conclusion."""
    workflow = spec.workflow or ""
    started = spec.dispatched_at if spec.dispatched_at is not None else ci.clock()
    deadline = started + spec.timeout
    base: dict[str, Any] = {"kind": "workflow", "workflow": workflow}

    def outcome(passed: bool, detail: str, conclusion: str, **facts: Any) -> Outcome:
        duration = max(ci.clock() - started, 0.0)
        progress(spec.name, "passed" if passed else "failed", detail)
        return Outcome(
            spec.name,
            passed,
            round(duration, 3),
            detail,
            "",
            spec.required,
            kind="workflow",
            url=facts.pop("url", None),
            conclusion=conclusion,
            facts={**base, **facts},
        )

    run_id, url = spec.run_id, None
    correlation = spec.correlation or ""
    if run_id is not None:
        progress(spec.name, "re-attached", f"to run {run_id} of {workflow}, dispatched before")
    elif correlation:
        progress(spec.name, "re-attached", f"looking for the {workflow} run {correlation}")
    else:
        correlation = correlation_id()
        record(EventKind.VALIDATION_DISPATCHING, {**base, "correlation": correlation, "ref": tag})
        inputs = {
            **dict(spec.inputs),
            **dict(zip(WORKFLOW_INPUTS, (tag, correlation), strict=True)),
        }
        try:
            answer = ci.dispatch_workflow(workflow, tag, inputs, sha=sha, correlation=correlation)
        except NotDispatched as exc:
            # Refused for certain: no run to wait for, and the next `validate` dispatches anew.
            record(
                EventKind.VALIDATION_NOT_DISPATCHED,
                {**base, "correlation": correlation, "reason": exc.message},
            )
            raise
        run_id, url = answer.run_id, answer.url
        progress(spec.name, "dispatched", f"{workflow} on {tag}" + (f": {url}" if url else ""))
        if run_id is None:
            # An older GitHub Enterprise Server answers 204 without the run: nothing is lost,
            # the run-name carries the correlation id.
            base["run_details"] = False
            progress(
                spec.name,
                "warning",
                "GitHub did not return the run's id (no return_run_details on this server): "
                f"finding the run by its id {correlation}",
            )
    if run_id is None:
        found = _appear(ci, spec, workflow, sha, correlation, started, deadline, schedule)
        if found is None:
            window = seconds(min(schedule.appear, spec.timeout))
            return outcome(
                False,
                f"never started: no {workflow} run for {tag} (id {correlation}) appeared "
                f"within {window}",
                "never_started",
                correlation=correlation,
            )
        run_id, url = found.id, found.url
    if spec.run_id is None:
        record(
            EventKind.VALIDATION_DISPATCHED,
            {**base, "correlation": correlation, "run_id": run_id, "url": url},
        )

    last: RunFact | None = None
    waits = schedule.waits()
    while True:
        current = ci.get_run(run_id)
        url = current.url or url
        if current.status != "completed" and (last is None or current.status != last.status):
            progress(spec.name, current.status, url or f"run {run_id}")
        last = current
        if current.status == "completed":
            conclusion = current.conclusion or "unknown"
            took = seconds(max(ci.clock() - started, 0.0))
            detail = f"{workflow} {conclusion} in {took}" + (f": {url}" if url else "")
            return outcome(conclusion == "success", detail, conclusion, run_id=run_id, url=url)
        now = ci.clock()
        if now >= deadline:
            if current.status in _WAITING:
                why = f"never started: still {current.status} after {seconds(spec.timeout)}"
                conclusion = "never_started"
            else:
                why = f"timed out after {seconds(spec.timeout)} ({current.status})"
                conclusion = "timed_out"
            # A run nobody waits for any more only holds runners: stop it (best effort; the
            # verdict stands either way).
            try:
                ci.cancel_run(run_id)
                why += ", run cancelled"
            except RcflowError as exc:
                why += f", run not cancelled: {exc.message}"
            return outcome(
                False,
                f"{workflow} {why}" + (f": {url}" if url else ""),
                conclusion,
                run_id=run_id,
                url=url,
            )
        ci.sleep(waits.take(deadline - now))


def _appear(
    ci: CI,
    spec: ValidationSpec,
    workflow: str,
    sha: str,
    correlation: str,
    started: float,
    deadline: float,
    schedule: Schedule,
) -> RunFact | None:
    """The run carrying correlation, once GitHub lists it; None when it never shows up."""
    until = min(deadline, started + schedule.appear)
    waits = schedule.waits()
    while True:
        found = ci.find_run(workflow, sha=sha, correlation=correlation, since=started)
        if found is not None:
            return found
        now = ci.clock()
        if now >= until:
            return None
        ci.sleep(waits.take(until - now))
