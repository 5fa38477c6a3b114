"""What every preflight check reads: one value, built once per run by the command.

Checks have one signature, `check(facts) -> list[Finding]`. What several checks need from one
question to a server (GitHub's canonical name for the repository, which the workflow and stale
reference checks use) is asked once, here, and kept.
"""

from __future__ import annotations

from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rcflow.model.config import Config
from rcflow.model.findings import Finding
from rcflow.model.remotes import github_repo
from rcflow.model.snapshot import Snapshot
from rcflow.model.states import Release
from rcflow.model.version import parse, tag_name
from rcflow.ports.forge import Forge
from rcflow.record import dataclass

if TYPE_CHECKING:
    from rcflow.model.plan import Plan
    from rcflow.model.registries import IndexFactory, RegistryFactory
    from rcflow.preflight.github import Facts as GitHubFacts
    from rcflow.preflight.registries import SumsReader


@dataclass(frozen=True)
class PreflightFacts:
    root: Path
    git_dir: Path
    config: Config
    snapshot: Snapshot
    release: Release
    forge: Forge
    origin_url: str  # the configured remote's URL ("" when it has none)
    registry: RegistryFactory
    index: IndexFactory
    dist_sums: SumsReader  # an RC's SHA256SUMS: staged in this clone, else the forge's
    # The plan being checked; None for `doctor`, which checks what the next release would do.
    plan: Plan | None = None

    @property
    def on_github(self) -> bool:
        return self.forge.name == "github"

    @cached_property
    def github(self) -> tuple[list[Finding], str | None]:
        """GitHub's findings about the repository and token, and its canonical owner/repo."""
        from rcflow.preflight import github as github_checks

        create, delete = (
            tags_touched(self.plan) if self.plan else next_tags(self.config, self.release)
        )
        return github_checks.findings(
            cast("GitHubFacts", self.forge),
            origin=github_repo(self.origin_url),
            create_tags=create,
            delete_tags=delete,
            everything=self.plan is None,
        )

    @cached_property
    def names(self) -> tuple[str | None, tuple[str, ...]]:
        """This repository's current owner/repo (None: not on github.com), and its previous ones.

        GitHub's redirect reveals names the repository had before; they count as previous too.
        """
        current = github_repo(self.origin_url)
        previous = list(self.config.previous_names)
        if self.on_github:
            canonical = self.github[1]
            if canonical is not None:
                repository = cast("GitHubFacts", self.forge).repository
                for name in (current, repository):
                    if name and name.lower() != canonical.lower() and name not in previous:
                        previous.append(name)
                current = canonical
        return current, tuple(previous)


def tags_touched(plan: Plan) -> tuple[list[str], list[str]]:
    """Tags the plan pushes, and tags it deletes while their release stays (a retraction)."""
    from rcflow.model.effects import DeleteRelease, DeleteTag, PushTag  # doctor has no plan

    create = [e.name for e in plan.effects if isinstance(e, PushTag)]
    released = {e.tag for e in plan.effects if isinstance(e, DeleteRelease)}
    delete = [
        e.name
        for e in plan.effects
        if isinstance(e, DeleteTag) and e.remote is not None and e.name not in released
    ]
    return create, delete


def next_tags(config: Config, release: Release) -> tuple[list[str], list[str]]:
    """The tags the next release would create: its first RC and its final."""
    base = release.target or (
        release.last_final.bump("minor") if release.last_final else parse("0.1.0")
    )
    render = partial(tag_name, tag_prefix=config.tag_prefix, rc_token=config.rc_token)
    return [render(base.with_rc(1)), render(base)], []
