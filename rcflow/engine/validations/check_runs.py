"""Checks validations: required check runs and commit statuses on the RC's exact commit.

Each named check run (the newest of that name) must complete as ``success`` — or ``neutral`` or
``skipped``, which GitHub's branch protection accepts too — and each named status context must
be ``success``. rcflow waits, with backoff, while any is missing, queued, in progress or
pending; the first that fails ends the wait, and so does the timeout, naming what was still
outstanding.
"""

from __future__ import annotations

from typing import Any

from rcflow.engine.validations.command import Outcome, Progress
from rcflow.engine.validations.poll import SCHEDULE, Schedule, seconds
from rcflow.model.effects import ValidationSpec
from rcflow.ports.ci import CHECK_PASSES, CI
from rcflow.record import dataclass


@dataclass(frozen=True)
class Item:
    """One required check or status, as last seen."""

    name: str
    source: str  # "check" | "status"
    state: str  # "not reported", a check's status or conclusion, a status's state
    done: bool
    ok: bool
    url: str | None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "conclusion": self.state, "url": self.url}


def look(ci: CI, spec: ValidationSpec, sha: str) -> list[Item]:
    items: list[Item] = []
    if spec.checks:
        runs = {c.name: c for c in ci.check_runs(sha)}
        for name in spec.checks:
            c = runs.get(name)
            if c is None:
                items.append(Item(name, "check", "not reported", False, False, None))
            elif c.status != "completed":
                items.append(Item(name, "check", c.status, False, False, c.url or None))
            else:
                conclusion = c.conclusion or "unknown"
                ok = conclusion in CHECK_PASSES
                items.append(Item(name, "check", conclusion, True, ok, c.url or None))
    if spec.statuses:
        statuses = {s.context: s for s in ci.commit_statuses(sha)}
        for context in spec.statuses:
            s = statuses.get(context)
            if s is None:
                items.append(Item(context, "status", "not reported", False, False, None))
            else:
                done = s.state != "pending"
                items.append(Item(context, "status", s.state, done, s.state == "success", s.url))
    return items


def _summary(items: list[Item]) -> str:
    return ", ".join(f"{i.name} {i.state}" for i in items)


def run(
    ci: CI,
    spec: ValidationSpec,
    *,
    sha: str,
    progress: Progress,
    schedule: Schedule = SCHEDULE,
) -> Outcome:
    """Wait until every required check and status on sha has passed, one fails, or time is up."""
    now_fn = ci.clock
    started = now_fn()
    deadline = started + spec.timeout
    waits = schedule.waits()
    last = ""

    def outcome(passed: bool, detail: str, conclusion: str, items: list[Item]) -> Outcome:
        progress(spec.name, "passed" if passed else "failed", detail)
        failing = [i for i in items if i.done and not i.ok]
        shown = failing or [i for i in items if not i.done] or items
        return Outcome(
            spec.name,
            passed,
            round(max(now_fn() - started, 0.0), 3),
            detail,
            "",
            spec.required,
            kind="checks",
            url=next((i.url for i in shown if i.url), None),
            conclusion=conclusion,
            facts={
                "kind": "checks",
                "checks": [i.to_json() for i in items if i.source == "check"],
                "statuses": [i.to_json() for i in items if i.source == "status"],
            },
        )

    while True:
        items = look(ci, spec, sha)
        summary = _summary(items)
        if summary != last:
            progress(spec.name, "waiting", summary)
            last = summary
        failed = [i for i in items if i.done and not i.ok]
        if failed:
            detail = "; ".join(
                f"{i.name} {i.state}" + (f": {i.url}" if i.url else "") for i in failed
            )
            return outcome(False, detail, failed[0].state, items)
        if all(i.done for i in items):
            return outcome(True, f"{summary} on {sha[:7]}", "success", items)
        now = now_fn()
        if now >= deadline:
            pending = ", ".join(f"{i.name} {i.state}" for i in items if not i.done)
            return outcome(
                False, f"timed out after {seconds(spec.timeout)}: {pending}", "timed_out", items
            )
        ci.sleep(waits.take(deadline - now))
