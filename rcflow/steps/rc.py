"""rc: tag the release commit `vX.Y.Z-rc.N`, push the tag, publish the prerelease."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from rcflow.errors import VersionError, VersionFileError
from rcflow.model.events import EventKind
from rcflow.model.notes import render_notes
from rcflow.model.plan import Plan
from rcflow.model.snapshot import Snapshot
from rcflow.model.states import State
from rcflow.model.version import Version, next_rc_number, tag_name
from rcflow.steps import registries as artifact_steps
from rcflow.steps.base import REPOSITORY_CHECKS, Facts, StepBase
from rcflow.steps.history import event_done
from rcflow.steps.publishing import build_assets, publish_release, released_done
from rcflow.steps.unfinished import unfinished_rollback
from rcflow.steps.version_commits import version_commit

if TYPE_CHECKING:
    from rcflow.model.effects import (
        Effect,
    )


@dataclass(frozen=True)
class RcArgs:
    pass


def rc_message(s: Snapshot, version: Version) -> str:
    from rcflow.model.conventional import summarize

    return f"Release candidate {version}\n\n{summarize(s.commits_since_final)}\n"


def notes(facts: Facts, version: Version, tag: str) -> str:
    s, config, release = facts.snapshot, facts.config, facts.release
    previous = (
        tag_name(release.last_final, tag_prefix=config.tag_prefix, rc_token=config.rc_token)
        if release.last_final
        else None
    )
    return render_notes(
        facts.render,
        s.commits_since_final,
        version=version,
        tag=tag,
        previous_tag=previous,
        prerelease=True,
    )


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
        data = {"sha": sha, "version": str(version.base), "rc": version.rc}
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

    latest = release.latest
    if latest is not None and latest.sha == s.head:
        # This commit already has its RC: finish publishing it if a run was interrupted.
        version = target.with_rc(latest.number)
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
        number = next_rc_number(release.used_rc_numbers)
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

    version = target.with_rc(number)
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
    effects += publish_release(
        s, config, tag, str(version), notes(facts, version, tag), prerelease=True
    )
    effects += artifact_steps.rc_packages(s, config, tag, version)
    data: dict[str, object] = {"version": str(target), "rc": number}
    if not on_new_commit:
        data["sha"] = s.head
    effects.append(RecordEvent(EventKind.RC_TAGGED, tag, data))
    return new(
        effects=tuple(effects) if not refusals else (),
        blockers=tuple(refusals),
        subject={"version": str(target), "tag": tag, "rc": number},
    )


class Rc(StepBase[RcArgs]):
    name = "rc"
    help = "Tag the release commit vX.Y.Z-rc.N and push the tag."
    checks = ("versions", *REPOSITORY_CHECKS)  # every version reference agrees before an RC

    def args(self, values: Mapping[str, Any]) -> RcArgs:
        return RcArgs()

    def plan(self, facts: Facts, args: RcArgs) -> Plan:
        return plan(facts, args)


STEP = Rc()
