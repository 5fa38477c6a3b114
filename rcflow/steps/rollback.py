"""rollback: undo the newest transition that can be undone — and never reuse a version number.

- released  → retracted: the tag stays, the ledger and forge mark it, the previous final is current;
- an RC     → withdrawn: its tag is deleted here and on the remote, its number stays used;
- bumped    → reverted: a revert commit when the bump was pushed, a reset when it was not.

The decision is recorded in the ledger first and the rest completes it, so a re-run after a
crash finishes the same rollback instead of undoing one more thing. Naming what to undo
(`rcflow rollback v1.4.0-rc.2`) makes a repeated rollback a no-op once that thing is undone.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from rcflow.errors import VersionError, VersionFileError
from rcflow.model.config import Config
from rcflow.model.events import EventKind
from rcflow.model.ledger import Event
from rcflow.model.plan import Plan
from rcflow.model.snapshot import Snapshot
from rcflow.model.states import REVERT_SUBJECT, Release, State, pending_bump_revert
from rcflow.model.version import Version, parse, tag_name
from rcflow.model.version_files import primary_version, read_versions, rewrite
from rcflow.record import dataclass
from rcflow.steps import registries as artifact_steps
from rcflow.steps.base import REPOSITORY_CHECKS, Facts, Param, StepBase
from rcflow.steps.bump import bump_message
from rcflow.steps.history import active_bump, version_key
from rcflow.steps.hooks import pending_hooks
from rcflow.steps.unfinished import abandoned_finals, unfinished_rollback
from rcflow.steps.version_commits import head_texts, work_texts

if TYPE_CHECKING:
    from rcflow.model.effects import (
        Effect,
    )


@dataclass(frozen=True)
class RollbackArgs:
    what: str | None = None  # a tag or version to undo; None = the newest undoable transition
    reason: str = ""
    delete_tag: bool = False  # retracting a release also deletes its tag


def _matches(what: str | None, *names: str) -> bool:
    return what is None or what in names


def revert_message(version: str) -> str:
    return REVERT_SUBJECT.format(version)


def _revert_effects(s: Snapshot, version: str, bump_commit: str) -> list[Effect]:
    from rcflow.model.effects import PushBranch, ResetBranch, RevertCommit

    if s.head == bump_commit and not s.head_on_remote:
        return [ResetBranch(drop=bump_commit, to=f"{bump_commit}^")]
    return [
        RevertCommit(bump_commit, revert_message(version)),
        PushBranch(s.remote, s.release_branch),
    ]


def _unrecorded_bump(s: Snapshot, target: Version) -> str:
    """HEAD when it is rcflow's own bump commit that a stopped run did not record yet."""
    last = s.commits_since_final[0] if s.commits_since_final else None
    if last is not None and last.sha == s.head and last.subject == bump_message(target):
        return last.sha
    return ""


def _reverted_since(s: Snapshot, version: str, bump_commit: str) -> bool:
    """Whether the branch has our revert commit for version, newer than the bump it reverts."""
    for commit in s.commits_since_final:  # newest first
        if commit.sha == bump_commit:
            return False
        if commit.subject == revert_message(version):
            return True
    return False


def _pending_revert(s: Snapshot, config: Config, files_version: Version | None) -> list[Effect]:
    """Finish a bump revert the ledger decided: the revert itself, then its push."""
    from rcflow.model.effects import PushBranch

    decided: dict[str, Event] = {}
    for e in s.ledger:
        if e.kind == EventKind.BUMP_REVERTED:
            decided[e.key] = e
        elif e.kind == EventKind.BUMPED:
            decided.pop(e.key, None)
    effects: list[Effect] = []
    on_remote = pending_bump_revert(s, config, head_texts(s))
    for version, event in decided.items():
        commit = str(event.data.get("commit") or "")
        if files_version is not None and str(files_version.base) == version and commit:
            if _reverted_since(s, version, commit):
                continue  # done; a later change (another revert) brought the version back
            if s.remote_ahead and str(on_remote) != version:
                continue  # another clone pushed the revert: this one is only behind
            effects += _revert_effects(s, version, commit)
        elif (
            s.commits_since_final
            and s.commits_since_final[0].subject == revert_message(version)
            and not s.head_on_remote
            and str(on_remote) == version  # else another clone pushed its own revert
        ):
            effects.append(PushBranch(s.remote, s.release_branch))
    return effects


def plan(facts: Facts, args: RollbackArgs) -> Plan:
    from rcflow.model.effects import (
        DeleteRelease,
        DeleteTag,
        MarkLatest,
        RecordEvent,
        ResetBranch,
        RetractRelease,
        RevertCommit,
    )

    s, config, release = facts.snapshot, facts.config, facts.release
    new = partial(Plan, "rollback", release.state.value, s.fingerprint())
    prefix, token = config.tag_prefix, config.rc_token

    # 1. Finish rollbacks that were decided but not carried out.
    effects: list[Effect] = unfinished_rollback(s, config, release)
    effects += _pending_revert(s, config, release.files_version)
    refusals: list[str] = []
    if effects:
        half = _half_reverted(s, config)
        refusals = facts.git_blockers(head_pushed=False, allow_dirty=half)
        needs_tree = any(isinstance(e, RevertCommit | ResetBranch) for e in effects)
        if not needs_tree:
            refusals = facts.git_blockers(clean=False, on_branch=False, head_pushed=False)
        return new(
            effects=tuple(effects) if not refusals else (),
            blockers=tuple(refusals),
            notes=("finishing a rollback that was interrupted",),
        )

    # 2. Already undone? Naming the thing makes a repeated rollback a no-op.
    if args.what is not None:
        if args.what in release.withdrawn_tags or args.what in release.retracted:
            return new(done=f"{args.what} is already rolled back")
        for e in s.ledger:
            if (
                e.kind == EventKind.BUMP_REVERTED
                and args.what in (e.key, tag_name(parse(e.key), tag_prefix=prefix, rc_token=token))
                and (
                    release.target is None
                    or version_key(release.target) != e.key
                    or _behind_a_revert(s, config, e.key)
                )
            ):
                return new(done=f"the bump to {e.key} is already reverted")

    # 3. Unnamed: once the newest rollback is complete and nothing moved forward since, it is
    # done; undoing something older (the bump under a withdrawn RC) must be asked for by name.
    if args.what is None:
        undone = newest_rollback(s)
        if undone is not None:
            return new(done=_done_text(undone, release, config))

    # 4. The newest undoable transition.
    notes: list[str] = []
    state = release.state
    latest = release.latest
    if state in (State.CANDIDATE, State.VALIDATED, State.REJECTED) and latest is not None:
        if not _matches(args.what, latest.tag):
            refusals.append(f"{args.what} is not the newest transition: that is {latest.tag}")
        refusals += facts.git_blockers(clean=False, on_branch=False, head_pushed=False)
        if args.delete_tag:
            refusals.append(
                "--delete-tag is for a released version; a withdrawn RC's tag goes anyway"
            )
        hooks = ["after_rollback"] if config.hooks.after_rollback else []
        withdrawn = RecordEvent(
            EventKind.RC_WITHDRAWN,
            latest.tag,
            {"sha": latest.sha, "rc": latest.number, "reason": args.reason, "hooks": hooks},
        )
        effects = [withdrawn]
        # The release goes first: a forge may protect the tag of a release that still exists.
        if latest.tag in s.releases:
            effects.append(DeleteRelease(latest.tag))
        if latest.remote:
            effects.append(DeleteTag(latest.tag, s.remote))
        if latest.local:
            effects.append(DeleteTag(latest.tag, None))
        effects += abandoned_finals(s, latest.tag)
        effects += pending_hooks(s, config, withdrawn, latest.tag)
        subject = {"version": str(release.target), "tag": latest.tag, "rc": latest.number}
    elif state is State.BUMPED and release.target is not None:
        target = release.target
        tag = tag_name(target, tag_prefix=prefix, rc_token=token)
        if not _matches(args.what, str(target), tag):
            refusals.append(
                f"{args.what} is not the newest transition: that is the bump to {target}"
            )
        if args.delete_tag:
            refusals.append("--delete-tag is for a released version, not a bump")
        event = active_bump(s, target)
        own = _unrecorded_bump(s, target) if event is None else ""
        if own:
            commit = own
        elif event is None or event.data.get("adopted"):
            refusals.append(f"rcflow did not make the bump to {target}: revert that commit by hand")
            commit = ""
        else:
            commit = str(event.data.get("head") or "")
            if not commit:
                refusals.append(f"the ledger does not say which commit bumped {target}")
        refusals += facts.git_blockers(head_pushed=False)
        effects = [
            RecordEvent(
                EventKind.BUMP_REVERTED, str(target), {"commit": commit, "reason": args.reason}
            )
        ]
        if commit:
            effects += _revert_effects(s, str(target), commit)
        subject = {"version": str(target), "tag": tag}
    elif state is State.RELEASED and release.last_final is not None:
        tag = tag_name(release.last_final, tag_prefix=prefix, rc_token=token)
        if not _matches(args.what, str(release.last_final), tag):
            refusals.append(f"{args.what} is not the newest transition: that is the release {tag}")
        refusals += facts.git_blockers(clean=False, on_branch=False, head_pushed=False)
        previous = max((v for v in release.finals if v < release.last_final), default=None)
        previous_tag = (
            tag_name(previous, tag_prefix=prefix, rc_token=token) if previous is not None else None
        )
        hooks = ["after_rollback"] if config.hooks.after_rollback else []
        # `latest` images go back to the previous final's recorded digest; versioned tags stay.
        images, image_notes = artifact_steps.latest_back(s, config, previous_tag)
        retracted = RecordEvent(
            EventKind.RETRACTED,
            tag,
            {
                "version": str(release.last_final),
                "previous": str(previous) if previous else None,
                "previous_tag": previous_tag,
                "reason": args.reason,
                "delete_tag": args.delete_tag,
                "hooks": hooks,
                **({"images": images} if images else {}),
            },
        )
        effects = [retracted]
        if tag in s.releases:
            effects.append(RetractRelease(tag, f"Retracted: {args.reason or 'no reason given'}"))
        if previous_tag is not None and previous_tag in s.releases:
            effects.append(MarkLatest(previous_tag))
        effects += artifact_steps.move_latest(s, config, retracted.data, tag)
        notes += image_notes
        if args.delete_tag:
            if tag in s.remote_tags:
                effects.append(DeleteTag(tag, s.remote))
            if tag in s.local_tags:
                effects.append(DeleteTag(tag, None))
        effects += pending_hooks(s, config, retracted, tag)
        if release.files_dev is not None:
            # Reverting it would put a retracted version back into the files; the next bump
            # overwrites the development version anyway.
            notes.append(
                f"the files keep their development version ({release.found[0].ref.value}): "
                "the next `rcflow bump` overwrites it"
            )
        subject = {"version": str(release.last_final), "tag": tag}
    else:
        return new(blockers=(f"nothing to roll back in state {state.value}",))
    return new(
        effects=tuple(effects) if not refusals else (),
        blockers=tuple(refusals),
        subject=subject,
        notes=tuple(notes),
    )


# What moves a release forward; a rollback decision newer than all of them is the last word.
FORWARD = frozenset(
    {
        EventKind.BUMPED,
        EventKind.RC_TAGGED,
        EventKind.VALIDATE_COMPLETED,
        EventKind.PROMOTING,
        EventKind.PROMOTED,
    }
)
ROLLBACKS = frozenset({EventKind.RC_WITHDRAWN, EventKind.RETRACTED, EventKind.BUMP_REVERTED})


def newest_rollback(s: Snapshot) -> Event | None:
    """The newest rollback decision, when no forward transition was recorded after it."""
    found: Event | None = None
    for e in s.ledger:
        if e.kind in ROLLBACKS:
            found = e
        elif e.kind in FORWARD:
            found = None
    return found


def _done_text(undone: Event, release: Release, config: Config) -> str:
    done: dict[str, str] = {
        EventKind.RC_WITHDRAWN: f"{undone.key} is already withdrawn",
        EventKind.RETRACTED: f"{undone.key} is already retracted",
        EventKind.BUMP_REVERTED: f"the bump to {undone.key} is already reverted",
    }
    what = done[undone.kind]
    older = _older(release, config)
    return f"{what}" + (
        f" (to undo {older[0]} too, name it: `rcflow rollback {older[1]}`)" if older else ""
    )


def _older(release: Release, config: Config) -> tuple[str, str] | None:
    """What a named rollback would undo next: (a description, the name to give)."""
    prefix, token = config.tag_prefix, config.rc_token
    if release.state in (State.CANDIDATE, State.VALIDATED, State.REJECTED) and release.latest:
        return release.latest.tag, release.latest.tag
    if release.state is State.BUMPED and release.target is not None:
        return f"the bump to {release.target}", str(release.target)
    if release.state is State.RELEASED and release.last_final is not None:
        tag = tag_name(release.last_final, tag_prefix=prefix, rc_token=token)
        return f"the release {tag}", tag
    return None


def _half_reverted(s: Snapshot, config: Config) -> list[str]:
    """Version files whose work text is exactly their reverted text: an older rcflow's
    `git revert --no-commit`, killed before its commit. The revert finishes over them."""
    try:
        files_version = primary_version(read_versions(config, head_texts(s))) if s.dirty else None
    except (VersionFileError, VersionError):
        return []
    if files_version is None:
        return []
    bumps = [e for e in s.ledger if e.kind == EventKind.BUMPED and e.key == str(files_version.base)]
    previous = str(bumps[-1].data.get("from") or "") if bumps else ""
    if not previous:
        return []
    try:
        reverted = rewrite(config, head_texts(s), parse(previous))
    except (VersionFileError, VersionError):
        return []
    works = work_texts(s)
    return [p for p in s.dirty if p in reverted and works.get(p) == reverted[p]]


def _behind_a_revert(s: Snapshot, config: Config, version: str) -> bool:
    """This clone still has the bump, but the remote branch has the revert another clone made."""
    if not s.remote_ahead or s.remote_files is None:
        return False
    latest = next((e.kind for e in reversed(s.ledger) if e.key == version), None)
    if latest != EventKind.BUMP_REVERTED:
        return False
    try:
        on_remote = primary_version(read_versions(config, dict(s.remote_files)))
    except (VersionFileError, VersionError):
        return False
    return on_remote is not None and str(on_remote.base) != version


class Rollback(StepBase[RollbackArgs]):
    name = "rollback"
    help = "Undo the newest transition: retract a release, withdraw an RC, or revert a bump."
    params = (
        Param(
            "what",
            str | None,
            None,
            "The tag or version to undo; re-running with it is a no-op once done.",
        ),
        Param("reason", str, "", "Why, for the ledger.", flags=("--reason",)),
        Param(
            "delete_tag",
            bool,
            False,
            "Retracting a release: delete its tag too.",
            flags=("--delete-tag",),
        ),
    )
    checks = REPOSITORY_CHECKS  # the version files may disagree: a rollback may be the fix

    def args(self, values: Mapping[str, Any]) -> RollbackArgs:
        return RollbackArgs(
            what=values["what"], reason=values["reason"], delete_tag=values["delete_tag"]
        )

    def resume_args(self, args: RollbackArgs) -> list[str]:
        # The reason is not repeated: the decision, recorded first, already carries it.
        return [
            *([args.what] if args.what else []),
            *(["--delete-tag"] if args.delete_tag else []),
        ]

    def plan(self, facts: Facts, args: RollbackArgs) -> Plan:
        return plan(facts, args)


STEP = Rollback()
