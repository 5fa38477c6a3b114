"""Waiting on GitHub: the polling schedule shared by the workflow and checks validators.

The clock and the sleep come from the CI port, so a test drives a whole wait with fake time.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from rcflow.ports.ci import CI, CheckFact, DeploymentFact, Dispatched, RunFact, StatusFact
from rcflow.record import dataclass


@dataclass(frozen=True)
class Schedule:
    first: float = 5.0  # seconds before the second look
    factor: float = 1.5  # each wait this much longer than the one before...
    most: float = 30.0  # ...up to this
    # How long a dispatched run may take to show up in the list of runs when the dispatch did
    # not say which run it started (or a crash lost it); then it "never started".
    appear: float = 300.0

    def waits(self) -> _Waits:
        return _Waits(self)


class _Waits:
    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.next = schedule.first

    def take(self, left: float) -> float:
        """The next wait, never past the deadline `left` seconds away."""
        wait = min(self.next, max(left, 0.0))
        self.next = min(self.next * self.schedule.factor, self.schedule.most)
        return wait


SCHEDULE = Schedule()


def seconds(value: float) -> str:
    """90 → "1m30s", 7200 → "2h", 12.5 → "12.5s": how long a wait was, for people."""
    if value < 60:
        return f"{value:.1f}s" if value != int(value) else f"{int(value)}s"
    whole = round(value)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s" if secs else "",
    ]
    return "".join(parts)


class Stopped(Exception):
    """The run stopped (an interrupt, a failure elsewhere): a waiting validation gives up."""


class Stoppable:
    """The CI port, with a wait that ends as soon as the run stops."""

    def __init__(self, ci: CI) -> None:
        self.ci = ci
        self.stop = threading.Event()

    def clock(self) -> float:
        return self.ci.clock()

    def sleep(self, seconds: float) -> None:
        if self.stop.is_set():
            raise Stopped
        self.ci.sleep(seconds)
        if self.stop.is_set():
            raise Stopped

    def dispatch_workflow(
        self, workflow: str, ref: str, inputs: Mapping[str, str], *, sha: str, correlation: str
    ) -> Dispatched:
        return self.ci.dispatch_workflow(workflow, ref, inputs, sha=sha, correlation=correlation)

    def find_run(
        self, workflow: str, *, sha: str, correlation: str, since: float
    ) -> RunFact | None:
        return self.ci.find_run(workflow, sha=sha, correlation=correlation, since=since)

    def get_run(self, run_id: int) -> RunFact:
        return self.ci.get_run(run_id)

    def cancel_run(self, run_id: int) -> None:
        self.ci.cancel_run(run_id)

    def check_runs(self, sha: str) -> Sequence[CheckFact]:
        return self.ci.check_runs(sha)

    def commit_statuses(self, sha: str) -> Sequence[StatusFact]:
        return self.ci.commit_statuses(sha)

    def deployment(self, sha: str, environment: str) -> DeploymentFact | None:
        return self.ci.deployment(sha, environment)
