"""Preflight: the checks run before a step's first side effect (and by `doctor`).

Each module inspects one class of facts — git, the forge, GitHub, version files, workflows,
stale references, registries — and returns `Finding`s (`rcflow.model.findings`). `CHECKS` is
the registry: every check has the one signature `check(PreflightFacts) -> list[Finding]`; a
step names the ids it needs (`Step.checks`), `doctor` runs `DOCTOR`, and `run` runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rcflow.model.config import WORKFLOW_INPUTS
from rcflow.model.findings import Finding
from rcflow.preflight import git as git_checks
from rcflow.preflight import versions as version_checks
from rcflow.preflight.facts import PreflightFacts, next_tags
from rcflow.record import dataclass

# The other checks' modules are imported by the check that runs them, and only once it has
# something to check (workflow files, a plan's artifacts): `doctor` on a repository without
# them pays nothing for their parsers and patterns.


@dataclass(frozen=True)
class Check:
    id: str  # what a step's `checks` names; not a finding id (a check reports many of those)
    run: Callable[[PreflightFacts], list[Finding]]
    # False: a refusal no --skip-check or [preflight] waive lifts (what the release will carry).
    waivable: bool = True


def _git(f: PreflightFacts) -> list[Finding]:
    # Steps ask for their own git preconditions while planning (`Facts.git_blockers`); doctor
    # asks for all of them but a pushed HEAD, which only a step that tags it needs.
    return git_checks.findings(f.snapshot, head_pushed=False)


def _versions(f: PreflightFacts) -> list[Finding]:
    return version_checks.findings(f.release, f.config)


def _github(f: PreflightFacts) -> list[Finding]:
    return list(f.github[0]) if f.on_github else []


def _validation_forge(f: PreflightFacts) -> list[Finding]:
    if f.forge.name == "github" or not any(v.on_github for v in f.config.validations):
        return []
    from rcflow.preflight import github as github_checks

    return github_checks.validation_forge_findings(
        f.config.validations, f.forge.name, f.config.source
    )


def _github_dispatch(f: PreflightFacts) -> list[Finding]:
    if not f.on_github:
        return []
    from rcflow.preflight import github as github_checks

    return github_checks.dispatch_findings(f.snapshot.ledger)


def _workflows(f: PreflightFacts) -> list[Finding]:
    directory = f.root / ".github" / "workflows"
    if not directory.is_dir() or not any(
        p.suffix in (".yml", ".yaml") for p in directory.iterdir()
    ):
        return []  # no workflow to check (`workflows.workflow_files`)
    from rcflow.preflight import workflow_memo

    rc1, final = next_tags(f.config, f.release)[0]
    current, _ = f.names
    owner = current.split("/")[0] if current else None
    dispatched = [v.workflow for v in f.config.validations if v.workflow]

    def check() -> list[Finding]:
        from rcflow.preflight import workflows as workflow_checks

        return workflow_checks.findings(
            f.root,
            tag_prefix=f.config.tag_prefix,
            rc_token=f.config.rc_token,
            owner=owner,
            actionlint=workflow_checks.find_actionlint(f.root),
            tags_pushed=(final, rc1),
            dispatched=dispatched,
        )

    args = {
        "tag_prefix": f.config.tag_prefix,
        "rc_token": f.config.rc_token,
        "owner": owner,
        "tags_pushed": [final, rc1],
        "dispatched": dispatched,
    }
    # Remembered between runs while nothing the checks read has changed (`workflow_memo`).
    return workflow_memo.findings(f.git_dir, f.root, args, check)


def _workflow_inputs(f: PreflightFacts) -> list[Finding]:
    dispatched = [
        (v.name, v.workflow, tuple(k for k, _ in v.inputs))
        for v in f.config.validations
        if v.workflow
    ]
    if not dispatched:
        return []
    from rcflow.preflight import workflows as workflow_checks

    return workflow_checks.dispatch_findings(f.root, dispatched, WORKFLOW_INPUTS)


def _soak(f: PreflightFacts) -> list[Finding]:
    from rcflow.preflight import soak as soak_checks

    return soak_checks.check(f)


def _stale_refs(f: PreflightFacts) -> list[Finding]:
    current, previous = f.names
    if not previous:
        return []
    if current is None:
        return [
            Finding(
                "stale-ref.unknown-name",
                "warning",
                f"{f.config.remote} is not a github.com URL: this repository's current "
                "name is unknown, so stale references were not searched",
                f"point {f.config.remote} at github.com/OWNER/REPO",
            )
        ]
    from rcflow.preflight import stale_refs

    return stale_refs.findings(f.root, current, previous, allow=f.config.allow_references)


def _registries(f: PreflightFacts) -> list[Finding]:
    """The registries and the index the plan would touch, tried before the first effect."""
    if f.plan is None:
        return []
    from rcflow.preflight import registries as artifact_checks

    return artifact_checks.findings(
        f.plan.effects, sums=f.dist_sums, registry=f.registry, index=f.index
    )


def _forge(f: PreflightFacts) -> list[Finding]:
    """What the final release will carry, proven on the forge (see preflight.forge)."""
    if f.plan is None:
        return []
    from rcflow.preflight import forge as forge_checks

    return forge_checks.findings(f.plan.effects, f.forge)


# In the order their findings are reported; ids are unique (tests/steps/test_registry.py).
CHECKS: tuple[Check, ...] = (
    Check("git", _git),
    Check("versions", _versions),
    Check("github", _github),
    Check("workflows", _workflows),
    Check("workflow-inputs", _workflow_inputs),
    Check("stale-refs", _stale_refs),
    Check("github-dispatch", _github_dispatch),
    Check("registries", _registries),
    Check("forge", _forge, waivable=False),
    Check("soak", _soak),
    Check("validation-forge", _validation_forge),
)


# What `rcflow doctor` runs: everything about the repository, nothing a plan alone decides.
DOCTOR = (
    "git",
    "versions",
    "github",
    "workflows",
    "workflow-inputs",
    "stale-refs",
    "github-dispatch",
    "validation-forge",
)


def run(ids: Iterable[str], facts: PreflightFacts) -> tuple[list[Finding], list[Finding]]:
    """The findings of the checks ids names, in `CHECKS` order: (waivable, never waived)."""
    wanted = set(ids)
    unknown = wanted - {c.id for c in CHECKS}
    if unknown:
        raise KeyError(f"no preflight check {sorted(unknown)[0]!r}")
    waivable: list[Finding] = []
    fixed: list[Finding] = []
    for check in CHECKS:
        if check.id in wanted:
            (waivable if check.waivable else fixed).extend(check.run(facts))
    return waivable, fixed


__all__ = ["CHECKS", "DOCTOR", "Check", "PreflightFacts", "run"]
