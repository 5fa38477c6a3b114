"""What the steps share about the pre-release ladder (issue 15): naming a stage, a stage's notes."""

from __future__ import annotations

from rcflow.errors import UsageError
from rcflow.model.config import Config, StageConfig, stage_named
from rcflow.steps.base import Facts


def chosen_stage(config: Config, name: str | None, option: str) -> StageConfig | None:
    """The stage an option names (None when not given); an unknown one is a usage error."""
    if name is None:
        return None
    stage = stage_named(config, name)
    if stage is None:
        known = ", ".join(s.name for s in config.ladder)
        raise UsageError(f"{option} {name!r}: not a stage of this release (stages: {known})")
    return stage


def since_previous(facts: Facts, sha: str | None, previous_tag: str | None) -> str:
    """Notes of a stage: what changed since the previous pre-release of the same version."""
    s = facts.snapshot
    if not facts.config.stages or previous_tag is None:
        return ""
    previous_sha = s.tag_commit(previous_tag)
    if previous_sha is None:
        return ""
    if previous_sha == (sha or s.head):
        return f"\nNo changes since {previous_tag} (the same commit).\n"
    shas = [c.sha for c in s.commits_since_final]
    if previous_sha not in shas:
        return ""
    since = s.commits_since_final[: shas.index(previous_sha)]
    lines = "".join(f"- {c.subject} ({c.sha[:7]})\n" for c in since)
    return f"\nChanges since {previous_tag}:\n{lines}"
