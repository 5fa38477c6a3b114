"""rc: tag the release commit `vX.Y.Z-rc.N`, push the tag, publish the prerelease."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from rcflow.errors import VersionError, VersionFileError
from rcflow.model.config import Config, StageConfig, stage_named, stage_of
from rcflow.model.events import EventKind
from rcflow.model.notes import render_notes
from rcflow.model.plan import Plan
from rcflow.model.snapshot import Snapshot
from rcflow.model.states import Release, State
from rcflow.model.version import Version, next_rc_number, tag_name
from rcflow.record import dataclass
from rcflow.steps import registries as artifact_steps
from rcflow.steps.base import REPOSITORY_CHECKS, Facts, Param, StepBase
from rcflow.steps.history import event_done
from rcflow.steps.ladder import chosen_stage, since_previous
from rcflow.steps.publishing import build_assets, publish_release, released_done
from rcflow.steps.unfinished import unfinished_rollback
from rcflow.steps.version_commits import version_commit

if TYPE_CHECKING:
    from rcflow.model.effects import (
        Effect,
    )


@dataclass(frozen=True)
class RcArgs:
    stage: str | None = None  # the ladder stage to cut at; None: the current one, else the first


def rc_message(s: Snapshot, version: Version) -> str:
    from rcflow.model.conventional import summarize

    what = "Release candidate" if version.stage is None else "Pre-release"
    return f"{what} {version}\n\n{summarize(s.commits_since_final)}\n"


def notes(facts: Facts, version: Version, tag: str, previous_pre: str | None = None) -> str:
    s, config, release = facts.snapshot, facts.config, facts.release
    previous = (
        tag_name(release.last_final, tag_prefix=config.tag_prefix, rc_token=config.rc_token)
        if release.last_final
        else None
    )
    text = render_notes(
        facts.render,
        s.commits_since_final,
        version=version,
        tag=tag,
        previous_tag=previous,
        prerelease=True,
    )
    return text + since_previous(facts, s.tag_commit(tag), previous_pre)


def publish(facts: Facts, tag: str, version: Version, sha: str) -> list[Effect]:
    """What makes an existing local RC tag complete: pushed, released with assets, recorded."""
    from rcflow.model.effects import PushTag, RecordEvent

    s, config = facts.snapshot, facts.config
    effects: list[Effect] = artifact_steps.resolve_images(s, config, tag, version)
    if tag not in s.remote_tags:
        effects.append(PushTag(s.remote, tag))
    rel = s.releases.get(tag)
    if rel is None or rel.draft:
        effects += build_assets(config, tag, sha, version)
    effects += publish_release(
        s, config, tag, str(version), notes(facts, version, tag), prerelease=True
    )
    effects += artifact_steps.rc_packages(s, config, tag, version)
    if not event_done(s, EventKind.RC_TAGGED, tag):
        data: dict[str, object] = {"sha": sha, "version": str(version.base), "rc": version.rc}
        if config.stages:
            data["stage"] = stage_of(config, version).name
        effects.append(RecordEvent(EventKind.RC_TAGGED, tag, data))
    return effects


def plan(facts: Facts, args: RcArgs) -> Plan:
    from rcflow.model.effects import Commit, CreateTag, PushBranch, PushTag, RecordEvent

    s, config, release = facts.snapshot, facts.config, facts.release
    new = partial(Plan, "rc", release.state.value, s.fingerprint())
    if release.target is None or release.state not in (
        State.BUMPED,
        State.CANDIDATE,
        State.REJECTED,
        State.VALIDATED,
    ):
        if done := released_done(release, config):
            return new(done=done)
        return new(blockers=("no release in flight: run `rcflow bump` first",))
    target = release.target
    refusals: list[str] = []
    if unfinished_rollback(s, config, release) or release.reverting is not None:
        refusals.append("a rollback is unfinished: run `rcflow rollback` to complete it first")

    asked = chosen_stage(config, args.stage, "--stage")
    stage = asked or stage_named(config, release.stage or "") or config.ladder[0]
    rank = config.ladder.index(stage)
    latest = release.latest
    if latest is not None and latest.sha == s.head and latest.stage != stage.name:
        # HEAD is already a pre-release at another stage: say so rather than tag it twice.
        here = next(
            (c for c in release.candidates if c.sha == s.head and c.stage == stage.name), None
        )
        if here is None:
            up = rank > config.ladder.index(stage_named(config, latest.stage) or stage)
            how = (
                f"`rcflow promote --to {stage.name}` moves a validated pre-release up"
                if up
                else "a commit moves up the ladder, never down; a new commit can enter lower"
            )
            return new(blockers=(*refusals, f"HEAD is already {latest.tag}: {how}"))
        latest = here
    if latest is not None and latest.sha == s.head:
        # This commit already has its RC: finish publishing it if a run was interrupted.
        version = latest.version or target.with_rc(latest.number)
        finishing = publish(facts, latest.tag, version, latest.sha)
        return new(
            effects=tuple(finishing) if not refusals else (),
            blockers=tuple(refusals),
            done=f"{latest.tag} already tags HEAD ({latest.sha[:7]})",
            subject={"version": str(target), "tag": latest.tag, "rc": latest.number},
        )

    for c in release.candidates:
        # An RC tag of this version that rcflow never recorded (made by hand, or by a run that
        # stopped before its event) on another commit: tagging around it would leave an RC
        # nobody validated, or an unfinished one, in the release's history.
        if c.sha != s.head and not event_done(s, EventKind.RC_TAGGED, c.tag):
            refusals.append(
                f"{c.tag} exists at {c.sha[:7]}, not at HEAD, and the ledger has no record of it: "
                f"withdraw it with `rcflow rollback {c.tag}` (its number stays used)"
            )

    refusals += entry_refusals(config, release, stage)
    files_rc = release.files_version
    effects: list[Effect] = []
    if (
        config.rc_in_files
        and files_rc is not None
        and files_rc.rc is not None
        and files_rc.rc not in release.used_rc_numbers
    ):
        # The files already carry this RC (a run stopped after its version commit): tag it.
        number = files_rc.rc
        refusals.extend(facts.git_blockers(head_pushed=False))
        if not s.head_on_remote:
            effects.append(PushBranch(s.remote, s.release_branch))
    else:
        number = next_rc_number(release.used(stage.name))
        if config.rc_in_files:
            version = target.with_rc(number)
            try:
                commit, found = version_commit(facts, version, f"chore(release): {version}")
            except (VersionFileError, VersionError) as exc:
                return new(blockers=(*refusals, exc.message))
            effects += [*commit, PushBranch(s.remote, s.release_branch)]
            refusals += found
        else:
            refusals.extend(facts.git_blockers())

    version = target.at_stage(stage.word, number)
    tag = tag_name(version, tag_prefix=config.tag_prefix, rc_token=config.rc_token)
    if tag in s.all_tags:
        refusals.append(f"{tag} already exists at {(s.tag_commit(tag) or '')[:7]}, not at HEAD")
    on_new_commit = any(isinstance(e, Commit) for e in effects)
    sha = None if on_new_commit else s.head
    # Built before tagging: a build that fails leaves no RC behind to withdraw.
    effects += build_assets(config, tag, sha, version)
    # The image is the RC as much as the commit is: its digest is recorded before the tag exists.
    effects += artifact_steps.resolve_images(s, config, tag, version)
    effects.append(CreateTag(tag, sha, rc_message(s, version)))
    effects.append(PushTag(s.remote, tag))
    previous = release.latest.tag if release.latest is not None else None
    effects += publish_release(
        s, config, tag, str(version), notes(facts, version, tag, previous), prerelease=True
    )
    effects += artifact_steps.rc_packages(s, config, tag, version)
    data: dict[str, object] = {"version": str(target), "rc": number}
    if not on_new_commit:
        data["sha"] = s.head
    subject: dict[str, object] = {"version": str(target), "tag": tag, "rc": number}
    if config.stages:
        data["stage"] = subject["stage"] = stage.name
    effects.append(RecordEvent(EventKind.RC_TAGGED, tag, data))
    return new(
        effects=tuple(effects) if not refusals else (),
        blockers=tuple(refusals),
        subject=subject,
    )


def entry_refusals(config: Config, release: Release, stage: StageConfig) -> list[str]:
    """Where a new commit may enter the ladder: at or below the current stage, never above;
    with nothing in flight, at the first stage (or past the ones `skip_allowed` names)."""
    names = [s.name for s in config.ladder]
    rank = names.index(stage.name)
    latest = release.latest
    if latest is not None:
        current = names.index(latest.stage) if latest.stage in names else rank
        if rank > current:
            return [
                f"{latest.tag} is the current pre-release ({latest.stage}): a new commit enters "
                f"at {latest.stage} or below; `rcflow promote --to {stage.name}` moves a "
                "validated one up"
            ]
        return []
    skipped = [n for n in names[:rank] if n not in config.skip_allowed]
    if skipped:
        return [
            f"{release.target} has no pre-release yet: it enters at {names[0]} "
            f"(`rcflow rc --stage {names[0]}`); {', '.join(skipped)} is not in skip_allowed"
        ]
    return []


class Rc(StepBase[RcArgs]):
    name = "rc"
    help = "Tag the release commit vX.Y.Z-rc.N and push the tag."
    checks = ("versions", *REPOSITORY_CHECKS)  # every version reference agrees before an RC

    params = (
        Param(
            "stage",
            str | None,
            None,
            "The stage to cut at (default: the current stage, else the first).",
            flags=("--stage",),
        ),
    )

    def args(self, values: Mapping[str, Any]) -> RcArgs:
        return RcArgs(stage=values.get("stage"))

    def resume_args(self, args: RcArgs) -> list[str]:
        return ["--stage", args.stage] if args.stage else []

    def plan(self, facts: Facts, args: RcArgs) -> Plan:
        return plan(facts, args)


STEP = Rc()
