"""Steps: each module is one command's `plan(snapshot, config, args) -> Plan`. Pure functions.

A step plans only what is missing: every piece it would produce is checked against the facts
first, so running it again after a crash plans the rest, and after success plans nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from rcflow import ledger
from rcflow.checks import Finding
from rcflow.checks import git as git_checks
from rcflow.config import Config
from rcflow.effects import (
    Commit,
    DeleteRelease,
    DeleteTag,
    Effect,
    RetractRelease,
    WriteVersionFiles,
)
from rcflow.files import rewrite
from rcflow.ledger import Event
from rcflow.snapshot import Snapshot
from rcflow.states import Release, State
from rcflow.version import Version, parse_tag, tag_name


def released_done(release: Release, config: Config) -> str | None:
    """When the version in the files is released already, the pre-release steps are done."""
    if release.state is State.RELEASED and release.last_final is not None:
        tag = tag_name(release.last_final, tag_prefix=config.tag_prefix, rc_token=config.rc_token)
        return f"{release.last_final} is already released as {tag}"
    return None


def blockers(found: Iterable[Finding]) -> list[str]:
    return [f.line() for f in found if f.severity == "error"]


def head_texts(s: Snapshot) -> dict[str, str | None]:
    return {f.path: f.head_text for f in s.files}


def work_texts(s: Snapshot) -> dict[str, str | None]:
    return {f.path: f.work_text for f in s.files}


def version_key(v: Version) -> str:
    return str(v)


def active_bump(s: Snapshot, target: Version) -> Event | None:
    """The `bumped` event that produced target, unless a later `bump_reverted` undid it."""
    found: Event | None = None
    for e in s.ledger:
        if e.key != version_key(target):
            continue
        if e.kind == "bumped":
            found = e
        elif e.kind == "bump_reverted":
            found = None
    return found


def unfinished_rollback(s: Snapshot, config: Config, release: Release) -> list[Effect]:
    """Effects that finish rollbacks the ledger decided but git or the forge do not show yet.

    Rollbacks record their decision first, so a crash leaves a decision to complete rather than
    a half-undone state that another command could mistake for something to push again.
    """
    effects: list[Effect] = []
    for tag in sorted(release.withdrawn_tags):
        if tag in s.remote_tags:
            effects.append(DeleteTag(tag, s.remote))
        if tag in s.local_tags:
            effects.append(DeleteTag(tag, None))
        if tag in s.releases:
            effects.append(DeleteRelease(tag))
    for tag in sorted(release.retracted):
        rel = s.releases.get(tag)
        if rel is not None and not rel.retracted:
            effects.append(RetractRelease(tag, retraction_note(s, tag)))
    return effects


def retraction_note(s: Snapshot, tag: str) -> str:
    for e in reversed(s.ledger):
        if e.kind == "retracted" and e.key == tag:
            reason = e.data.get("reason") or "no reason given"
            return f"Retracted on {e.time[:10]} by {e.actor}: {reason}"
    return "Retracted"


def tag_version(tag: str, config: Config) -> Version | None:
    return parse_tag(tag, tag_prefix=config.tag_prefix, rc_token=config.rc_token)


def final_texts(s: Snapshot, config: Config, version: Version) -> dict[str, str]:
    """New contents that put `version` into every version file (from HEAD's text)."""
    return rewrite(config, head_texts(s), version)


def version_commit(
    s: Snapshot, config: Config, version: Version, message: str
) -> tuple[list[Effect], list[str]]:
    """Effects that commit `version` into every version file, and the git refusals for it.

    Our own planned text left uncommitted by an interrupted run is resumable work, not a user's
    uncommitted change, so it does not block.
    """
    contents = final_texts(s, config, version)
    works = work_texts(s)
    resumable = [p for p in contents if works.get(p) == contents[p]]
    paths = tuple(sorted(contents))
    effects: list[Effect] = [
        WriteVersionFiles(
            str(version),
            tuple((p, contents[p]) for p in paths),
            tuple((p, works.get(p)) for p in paths),
        ),
        Commit(paths, message, s.head or ""),
    ]
    return effects, blockers(git_checks.findings(s, allow_dirty=resumable))


def event_done(s: Snapshot, kind: str, key: str) -> bool:
    return ledger.has(s.ledger, kind, key)
