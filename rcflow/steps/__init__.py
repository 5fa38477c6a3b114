"""Steps: each module is one command's `plan(snapshot, config, args) -> Plan`. Pure functions.

A step plans only what is missing: every piece it would produce is checked against the facts
first, so running it again after a crash plans the rest, and after success plans nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from rcflow.model import ledger
from rcflow.model.config import Config
from rcflow.model.effects import (
    BuildAssets,
    CarryAssets,
    Commit,
    CreateRelease,
    DeleteRelease,
    DeleteTag,
    Effect,
    MarkLatest,
    PublishRelease,
    RecordEvent,
    RetractRelease,
    RunHook,
    UploadAssets,
    WriteVersionFiles,
)
from rcflow.model.findings import Finding
from rcflow.model.ledger import Event
from rcflow.model.snapshot import Snapshot
from rcflow.model.states import Release, State, unpushed_promotions
from rcflow.model.version import Spelling, Version, parse_tag, tag_name
from rcflow.model.version_files import rewrite
from rcflow.preflight import git as git_checks
from rcflow.steps.registries import move_latest


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
        if tag in s.releases:
            effects.append(DeleteRelease(tag))
        if tag in s.remote_tags:
            effects.append(DeleteTag(tag, s.remote))
        if tag in s.local_tags:
            effects.append(DeleteTag(tag, None))
        effects += abandoned_finals(s, tag)
        effects += pending_hooks(s, config, decision(s, "rc_withdrawn", tag), tag)
    for tag in sorted(release.retracted):
        event = decision(s, "retracted", tag)
        rel = s.releases.get(tag)
        if rel is not None and not rel.retracted:
            effects.append(RetractRelease(tag, retraction_note(s, tag)))
        previous = str(event.data.get("previous_tag") or "") if event else ""
        current = (
            tag_name(release.last_final, tag_prefix=config.tag_prefix, rc_token=config.rc_token)
            if release.last_final
            else None
        )
        prev_rel = s.releases.get(previous)
        # Only while that previous final is still the current release: a newer one since then
        # is latest by its own right.
        if previous and previous == current and prev_rel is not None and not prev_rel.latest:
            effects.append(MarkLatest(previous))
        if previous and previous == current and event is not None:
            effects += move_latest(s, config, event.data, tag)
        if event is not None and event.data.get("delete_tag"):
            if tag in s.remote_tags:
                effects.append(DeleteTag(tag, s.remote))
            if tag in s.local_tags:
                effects.append(DeleteTag(tag, None))
        effects += pending_hooks(s, config, event, tag)
    return effects


def decision(s: Snapshot, kind: str, key: str) -> Event | None:
    return next((e for e in reversed(s.ledger) if e.kind == kind and e.key == key), None)


def hook_env(
    config: Config, version: Version, tag: str, **extra: str
) -> tuple[tuple[str, str], ...]:
    pep440 = version.render(Spelling.PEP440, tag_prefix=config.tag_prefix, rc_token=config.rc_token)
    env = {"RCFLOW_TAG": tag, "RCFLOW_VERSION": str(version), "RCFLOW_PEP440": pep440, **extra}
    return tuple(sorted(env.items()))


def pending_hooks(
    s: Snapshot, config: Config, decided: Event | RecordEvent | None, tag: str
) -> list[Effect]:
    """The hooks a decision promised (its "hooks" list) that have not succeeded yet.

    `decided` is the decision's ledger event, or the RecordEvent a plan is about to append: a
    fresh run and a resumed one build the same hook with the same environment from it. The list
    is fixed when the step is decided, so adding a hook to the config later never runs it for
    releases that were finished before.
    """
    if decided is None:
        return []
    kind = decided.event if isinstance(decided, RecordEvent) else decided.kind
    data = decided.data
    effects: list[Effect] = []
    version = tag_version(tag, config)
    for hook in data.get("hooks") or []:
        command = config.hooks.command(str(hook))
        if command is None or version is None:
            continue
        if ledger.has(s.ledger, "hook_succeeded", f"{tag}/{hook}"):
            continue
        extra = {}
        if data.get("previous_tag"):
            extra["RCFLOW_PREVIOUS_TAG"] = str(data["previous_tag"])
        if kind == "promoting" and data.get("rc"):
            extra["RCFLOW_RC_TAG"] = str(data["rc"])
        env = hook_env(config, version, tag, **extra)
        effects.append(RunHook(str(hook), tag, command, env, config.hooks.timeout))
    return effects


def build_assets(config: Config, tag: str, sha: str | None, version: Version) -> list[Effect]:
    a = config.assets
    if a is None:
        return []
    pep440 = version.render(Spelling.PEP440, tag_prefix=config.tag_prefix, rc_token=config.rc_token)
    return [BuildAssets(tag, sha, str(version), pep440, a.build, a.files, a.timeout)]


def publish_release(
    s: Snapshot,
    config: Config,
    tag: str,
    title: str,
    notes: str,
    *,
    prerelease: bool,
    carry_from: str | None = None,
) -> list[Effect]:
    """What puts a release on the forge, from whatever part of it is already there.

    Always draft first, assets next, then publish: a published release may be immutable (GitHub's
    immutable releases), so nothing is added to it afterwards.
    """
    rel = s.releases.get(tag)
    if rel is not None and not rel.draft:
        if not prerelease and not rel.latest and not ledger.has(s.ledger, "promoted", tag):
            # Published, but the run stopped before it became latest.
            return [PublishRelease(tag, latest=True)]
        return []
    effects: list[Effect] = []
    if rel is None:
        effects.append(CreateRelease(tag, title, notes, prerelease=prerelease, draft=True))
    if carry_from is not None:
        effects.append(CarryAssets(carry_from, tag))
    elif config.assets is not None:
        effects.append(UploadAssets(tag))
    effects.append(PublishRelease(tag, latest=not prerelease))
    return effects


def retraction_note(s: Snapshot, tag: str) -> str:
    """The note a retraction puts on the release: the same whether the rollback that decided it
    runs through or a later run finishes it (who and when are in the ledger's event)."""
    for e in reversed(s.ledger):
        if e.kind == "retracted" and e.key == tag:
            return f"Retracted: {e.data.get('reason') or 'no reason given'}"
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


def carry_blockers(s: Snapshot, source: str, target: str) -> list[str]:
    """Why the final's release could not get the RC's assets, known before anything is changed.

    The final tag is never pushed ahead of a release that cannot be made: an RC whose release
    is gone, or was never finished, refuses the promotion with what completes it. That every
    file its SHA256SUMS lists is there is proven by the preflight (it reads the file).
    """
    final = s.releases.get(target)
    if final is not None and not final.draft:
        return []  # published already: nothing is carried
    rc = s.releases.get(source)
    if rc is not None and not rc.draft:
        return []
    sha = s.tag_commit(source) or ""
    what = f"has no release {source}" if rc is None else f"has only a draft of {source}"
    if target in s.remote_tags:
        # An interrupted promotion pushed the final tag: an RC can no longer be finished.
        fix = f"restore {source}'s release on the forge, or retract {target} with `rcflow rollback`"
    elif sha and s.head == sha:
        fix = f"run `rcflow rc` to finish it ({source} tags HEAD), then promote"
    else:
        fix = f"withdraw it with `rcflow rollback {source}`, then cut a new RC with `rcflow rc`"
    return [f"the {s.forge} forge {what}, whose assets the final release carries: {fix}"]


def abandoned_finals(s: Snapshot, rc_tag: str) -> list[Effect]:
    """Withdrawing an RC abandons a promotion of it whose final tag never reached the remote:
    the tag this clone made for it goes too (nobody else ever saw it)."""
    return [
        DeleteTag(final, None)
        for final, rc in sorted(unpushed_promotions(s).items())
        if rc == rc_tag and final in s.local_tags
    ]
