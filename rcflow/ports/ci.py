"""The CI protocol: what validations ask of GitHub Actions and the checks API.

The GitHub adapter implements it next to the Forge protocol; the validators that dispatch a
workflow or wait for checks see only this, and only these plain facts, never PyGithub objects.
Time is part of the port too (`clock`, `sleep`), so polling can be driven by a fake clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from rcflow.errors import EffectError
from rcflow.record import dataclass

# How a check run may end and still count, as GitHub's branch protection counts it.
CHECK_PASSES = frozenset({"success", "neutral", "skipped"})


class NotDispatched(EffectError):
    """GitHub refused a dispatch for certain (401, 403, 404, 422): no run was started."""


@dataclass(frozen=True)
class RunFact:
    """A workflow run as GitHub reports it."""

    id: int
    status: str  # queued, in_progress, completed, waiting, requested, pending
    conclusion: str | None  # set once completed: success, failure, cancelled, timed_out, ...
    url: str  # the run's page
    title: str  # display_title: the workflow's run-name, which carries the correlation id
    head_sha: str
    created_at: float  # seconds since the epoch


@dataclass(frozen=True)
class Dispatched:
    """What a workflow dispatch answered: the run, when the API says which one it started."""

    run_id: int | None
    url: str | None


@dataclass(frozen=True)
class CheckFact:
    name: str
    status: str  # queued, in_progress, completed, ...
    conclusion: str | None
    url: str


@dataclass(frozen=True)
class StatusFact:
    context: str
    state: str  # pending, success, failure, error
    url: str | None  # target_url
    description: str | None


@dataclass(frozen=True)
class DeploymentFact:
    """The newest deployment of a commit to an environment, and its latest status."""

    id: int
    environment: str
    sha: str
    url: str  # the deployment (API)
    created_at: str  # ISO 8601, as GitHub sent it
    # The latest status: None while the deployment has none. pending, queued, in_progress,
    # success, failure, error or inactive (a newer deployment replaced it).
    state: str | None
    status_url: str | None  # the status's log (log_url, else target_url), else the status
    environment_url: str | None  # where the deployed environment answers
    status_at: str | None  # when the latest status was posted


@runtime_checkable
class CI(Protocol):
    def clock(self) -> float:
        """Now, in seconds since the epoch (the ledger's times compare with it)."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def dispatch_workflow(
        self, workflow: str, ref: str, inputs: Mapping[str, str], *, sha: str, correlation: str
    ) -> Dispatched:
        """Start workflow on ref (at sha); a lost answer is looked up by correlation, not resent.

        Raises `NotDispatched` when GitHub refused it (then no run exists); any other error
        leaves it open whether the run started.
        """
        ...

    def find_run(
        self, workflow: str, *, sha: str, correlation: str, since: float
    ) -> RunFact | None:
        """The workflow_dispatch run of workflow on sha whose title carries correlation."""
        ...

    def get_run(self, run_id: int) -> RunFact: ...

    def cancel_run(self, run_id: int) -> None:
        """Cancel a run that is still queued or in progress; one that finished is left alone."""
        ...

    def check_runs(self, sha: str) -> Sequence[CheckFact]:
        """The newest check run of each name on sha."""
        ...

    def commit_statuses(self, sha: str) -> Sequence[StatusFact]:
        """The newest status of each context on sha (the combined status)."""
        ...

    def deployment(self, sha: str, environment: str) -> DeploymentFact | None:
        """The newest deployment of sha to environment with its latest status (None: none)."""
        ...
