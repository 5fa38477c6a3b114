"""What every step is: its arguments, its policy (preflight, lease, resume) and `plan(facts)`.

A step is one module in this package (bump, rc, validate, promote, rollback) holding one `Step`
object; `rcflow.steps.STEPS` lists them. The command line, the preflight, the lease and the
resume line all read the step's own declarations, so adding a step is adding one module.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Generic, Protocol, TypeVar

from rcflow.model.config import Config
from rcflow.model.findings import Finding
from rcflow.model.notes import Renderer
from rcflow.model.plan import Plan
from rcflow.model.snapshot import Snapshot
from rcflow.model.states import Release, classify
from rcflow.record import dataclass

A = TypeVar("A")


class GitCheck(Protocol):
    """The git preflight (`rcflow.preflight.git.findings`): the caller names what it needs."""

    def __call__(
        self,
        s: Snapshot,
        *,
        clean: bool = True,
        on_branch: bool = True,
        head_pushed: bool = True,
        identity: bool = True,
        allow_dirty: Collection[str] = (),
    ) -> list[Finding]: ...


@dataclass(frozen=True)
class Facts:
    """What one run plans from, computed once: the snapshot, the config, the classified release.

    `git_check` is the git preflight, handed in by the command: a step asks it for exactly the
    git preconditions its plan needs (a clean tree but for the files it rewrites, a pushed HEAD
    or not), and the preflight package, not the step, owns how each is judged. `render` renders
    a template (the release notes) with the repository's own overrides.
    """

    snapshot: Snapshot
    config: Config
    release: Release
    git_check: GitCheck
    render: Renderer

    @classmethod
    def of(cls, snapshot: Snapshot, config: Config, git_check: GitCheck, render: Renderer) -> Facts:
        return cls(snapshot, config, classify(snapshot, config), git_check, render)

    def git_blockers(
        self,
        *,
        clean: bool = True,
        on_branch: bool = True,
        head_pushed: bool = True,
        identity: bool = True,
        allow_dirty: Collection[str] = (),
    ) -> list[str]:
        """The git preconditions that do not hold, as plan blockers (errors only)."""
        found = self.git_check(
            self.snapshot,
            clean=clean,
            on_branch=on_branch,
            head_pushed=head_pushed,
            identity=identity,
            allow_dirty=allow_dirty,
        )
        return [f.line() for f in found if f.severity == "error"]


@dataclass(frozen=True)
class Param:
    """One command-line parameter of a step, declared without the parser (only `rcflow.cli`
    imports typer). No `flags`: a positional argument named `name`."""

    name: str  # the Python name; an argument's metavar
    type: Any  # str, bool, str | None, list[str] | None
    default: Any
    help: str
    flags: tuple[str, ...] = ()


# The preflight checks (ids in `rcflow.preflight.CHECKS`) that judge what a plan touches beyond
# git: the forge and its token, the release workflows, stale references, registries, assets.
REPOSITORY_CHECKS = ("github", "workflows", "workflow-inputs", "stale-refs", "registries", "forge")


class Step(Protocol[A]):
    """One command of the release lifecycle."""

    @property
    def name(self) -> str: ...

    @property
    def help(self) -> str:
        """The command's help text."""
        ...

    @property
    def params(self) -> tuple[Param, ...]:
        """Its own parameters, in order; the CLI adds the options every step has."""
        ...

    @property
    def checks(self) -> tuple[str, ...]:
        """Preflight check ids run before its first effect; () runs none (no --skip-check)."""
        ...

    def args(self, values: Mapping[str, Any]) -> A:
        """The typed arguments from the parsed parameters (keyed by `Param.name`)."""
        ...

    def check_args(self, args: A) -> None:
        """Raise a usage error for arguments the parser cannot judge."""
        ...

    def resume_args(self, args: A) -> list[str]:
        """The command-line words after `rcflow NAME` that run it again with these arguments."""
        ...

    def lease_ttl(self, config: Config, plan: Plan) -> float:
        """How long the release lease of a run applying plan must last."""
        ...

    def plan(self, facts: Facts, args: A) -> Plan: ...


class StepBase(Generic[A]):
    """The policy most steps share; a step overrides what is its own."""

    name = ""
    help = ""
    params: tuple[Param, ...] = ()
    checks: tuple[str, ...] = ()

    def check_args(self, args: A) -> None:
        return None

    def resume_args(self, args: A) -> list[str]:
        return []

    def lease_ttl(self, config: Config, plan: Plan) -> float:
        """lease_ttl, plus the time the plan's waits may take.

        A validation may wait 30 minutes on a workflow run and a build or hook has its own
        timeout; a lease shorter than that would let another host take over a run that is
        still working.
        """
        from rcflow.model.effects import BuildAssets, RunHook, RunValidations

        waits = 0.0
        for effect in plan.effects:
            if isinstance(effect, RunValidations) and effect.validations:
                waits += effect.longest_wait()
            elif isinstance(effect, BuildAssets | RunHook):
                waits += effect.timeout
        return config.lease_ttl + waits
