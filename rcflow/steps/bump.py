"""bump: put the target version into every version file in one commit, and push it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from rcflow.errors import VersionError, VersionFileError
from rcflow.model.config import Config
from rcflow.model.events import EventKind
from rcflow.model.plan import Plan
from rcflow.model.snapshot import Snapshot
from rcflow.model.states import State
from rcflow.model.version import PARTS, Version, parse, parse_dev, resolve_target, tag_name
from rcflow.record import dataclass
from rcflow.steps.base import REPOSITORY_CHECKS, Facts, Param, StepBase
from rcflow.steps.history import active_bump, version_key
from rcflow.steps.unfinished import unfinished_rollback
from rcflow.steps.version_commits import final_texts, head_texts, work_texts

if TYPE_CHECKING:
    from rcflow.model.effects import Effect


@dataclass(frozen=True)
class BumpArgs:
    request: str = "auto"  # major | minor | patch | auto | X.Y.Z


def _current(
    s: Snapshot, files_version: Version | None, highest_final: Version | None
) -> Version | None:
    """The version parts bump from, chosen so that repeating the same bump changes nothing.

    With a release behind us the base is the newest final ever (numbers are never reused); the
    in-flight version in the files would otherwise be bumped again on every re-run. Before any
    release, the base is what the files said before rcflow's own bump, as the ledger recorded.
    """
    if highest_final is not None:
        return None
    if files_version is not None:
        event = active_bump(s, files_version.base)
        if event is not None and event.data.get("from"):
            try:
                return parse(str(event.data["from"]))
            except VersionError:
                return files_version
        # A run that stopped between its bump commit and its ledger event: the commit says.
        return own_bump_from(s, files_version.base) or files_version
    return files_version


PREVIOUS = "Previous-version: "


def bump_message(target: Version) -> str:
    return f"chore(release): bump version to {target}"


def commit_message(target: Version, previous: Version | str) -> str:
    """The bump commit's message: it carries the version it bumped from, for a resumed run."""
    return f"{bump_message(target)}\n\n{PREVIOUS}{previous}\n"


def _own_bump_from_text(s: Snapshot, version: Version) -> str | None:
    if not s.commits_since_final or s.commits_since_final[0].subject != bump_message(version):
        return None
    for line in s.commits_since_final[0].body.splitlines():
        if line.startswith(PREVIOUS):
            return line[len(PREVIOUS) :].strip()
    return None


def own_bump_from(s: Snapshot, version: Version) -> Version | None:
    """When HEAD is rcflow's commit bumping the files to version: what they said before it."""
    text = _own_bump_from_text(s, version)
    if text is None:
        return None
    try:
        return parse(text)
    except VersionError:
        return None


def _bumped_from_dev(s: Snapshot, config: Config, files: Version) -> Version | None:
    """The development version's final that rcflow's bump to `files` started from, if any.

    A re-run of `bump auto` before any release must find the same target as the first run did:
    that run took the final the development version led to.
    """
    event = active_bump(s, files.base)
    text = str(event.data.get("from") or "") if event is not None else None
    if text is None:
        text = _own_bump_from_text(s, files.base)
    return parse_dev(text, tag_prefix=config.tag_prefix) if text else None


def plan(facts: Facts, args: BumpArgs) -> Plan:
    from rcflow.model.conventional import bump_part, prepend_changelog, render_changelog_section
    from rcflow.model.effects import Commit, PushBranch, RecordEvent, WriteVersionFiles

    s, config, release = facts.snapshot, facts.config, facts.release
    new = partial(Plan, "bump", release.state.value, s.fingerprint())
    refusals: list[str] = []
    if not config.version_files:
        refusals.append("no version file found: add a [[version_file]] to rcflow.toml")
        return new(blockers=tuple(refusals))
    if not release.found:
        refusals.extend(release.problems or ["the version files hold no version rcflow can read"])
        return new(blockers=tuple(refusals))
    if unfinished_rollback(s, config, release) or release.reverting is not None:
        refusals.append("a rollback is unfinished: run `rcflow rollback` to complete it first")

    # The files may hold a development version (1.5.0.dev0) or text that is no version at all:
    # an explicit X.Y.Z overwrites either, and parts count from the last final.
    files = release.files_version
    was = files if files is not None else release.found[0].ref.value
    dev = release.files_dev if files is None else _bumped_from_dev(s, config, files)
    auto = bump_part(s.commits_since_final, release.highest_final or files or dev)
    if args.request == "auto" and auto is None and release.target is None:
        # Nothing releasable is not an error: a re-dispatched bump after a release is a no-op.
        since = release.highest_final or was
        return new(blockers=tuple(refusals), done=f"no feat, fix or breaking commits since {since}")
    try:
        if release.highest_final is None and dev is not None and args.request in (*PARTS, "auto"):
            # No release to count from: the development version says where the project goes.
            if args.request != "auto":
                raise VersionError(
                    f"no release to count a {args.request} bump from; the files are on the way "
                    f"to {dev}: run `rcflow bump {dev}` or name another version"
                )
            target = dev
        else:
            target = resolve_target(
                args.request,
                _current(s, files, release.highest_final),
                release.highest_final,
                auto,
                tag_prefix=config.tag_prefix,
            )
    except VersionError as exc:
        return new(blockers=(*refusals, exc.message))
    tag = tag_name(target, tag_prefix=config.tag_prefix, rc_token=config.rc_token)
    subject = {"version": str(target), "tag": tag}

    in_flight = release.target
    if release.state in (State.CANDIDATE, State.VALIDATED, State.REJECTED) and in_flight != target:
        refusals.append(
            f"{release.latest.tag if release.latest else in_flight} is in flight: promote it or "
            "roll it back before bumping to another version"
        )

    need_write = files is None or files.base != target
    effects: list[Effect] = []
    if need_write:
        try:
            contents = final_texts(s, config, target)
        except (VersionFileError, VersionError) as exc:
            return new(blockers=(*refusals, exc.message), subject=subject)
        if config.changelog:
            day = datetime.fromtimestamp(s.now, UTC).date().isoformat()
            old = head_texts(s).get(config.changelog)
            updated = prepend_changelog(
                old, render_changelog_section(target, day, s.commits_since_final)
            )
            if updated != old:
                contents[config.changelog] = updated
        paths = sorted(contents)
        works = work_texts(s)
        # A crash between writing and committing leaves exactly the planned text behind: that is
        # our own unfinished work, not a user's uncommitted change.
        resumable = [p for p in paths if works.get(p) == contents[p]]
        refusals.extend(facts.git_blockers(allow_dirty=resumable, head_pushed=False))
        effects.append(
            WriteVersionFiles(
                version=str(target),
                contents=tuple((p, contents[p]) for p in paths),
                expected=tuple((p, works.get(p)) for p in paths),
            )
        )
        effects.append(
            Commit(
                paths=tuple(paths),
                message=commit_message(target, was),
                parent=s.head or "",
            )
        )
    else:
        refusals.extend(facts.git_blockers(clean=False, head_pushed=False))

    if need_write or not s.head_on_remote:
        effects.append(PushBranch(s.remote, s.release_branch))
    if need_write or active_bump(s, target) is None:
        ours = need_write or bool(
            s.commits_since_final and s.commits_since_final[0].subject == bump_message(target)
        )
        previous = was if need_write else _own_bump_from_text(s, target)
        effects.append(
            RecordEvent(
                EventKind.BUMPED,
                version_key(target),
                {
                    "from": str(previous) if previous is not None else None,
                    "to": str(target),
                    "request": args.request,
                    # apply stamps every event with HEAD: for our own commit, the bump commit
                    "adopted": not ours,
                },
            )
        )
    if refusals:
        return new(blockers=tuple(refusals), subject=subject)
    return new(
        effects=tuple(effects),
        done=f"the version files already say {target} and {s.remote} has the commit",
        subject=subject,
    )


class Bump(StepBase[BumpArgs]):
    name = "bump"
    help = "Write the next version into every version file in one commit, and push it."
    params = (
        Param(
            "part", str, "auto", "major, minor, patch, auto (from conventional commits) or X.Y.Z."
        ),
    )
    checks = REPOSITORY_CHECKS  # the version files may disagree before a bump: it rewrites them

    def args(self, values: Mapping[str, Any]) -> BumpArgs:
        return BumpArgs(values["part"])

    def check_args(self, args: BumpArgs) -> None:
        if args.request not in (*PARTS, "auto"):
            resolve_target(args.request, None, None)  # raises VersionError (usage) unless X.Y.Z

    def resume_args(self, args: BumpArgs) -> list[str]:
        return [args.request]

    def plan(self, facts: Facts, args: BumpArgs) -> Plan:
        return plan(facts, args)


STEP = Bump()
