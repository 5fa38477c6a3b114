"""promote: tag the validated RC's exact commit `vX.Y.Z`, push it, publish the release."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from rcflow.errors import ConflictError, VersionError, VersionFileError
from rcflow.model.config import Config, StageConfig
from rcflow.model.events import EventKind
from rcflow.model.ledger import Event
from rcflow.model.notes import render_notes
from rcflow.model.plan import Plan
from rcflow.model.snapshot import Snapshot
from rcflow.model.states import Candidate, Release, State
from rcflow.model.version import Version, render_dev, tag_name
from rcflow.model.version_files import read_versions, rewrite_dev
from rcflow.record import dataclass
from rcflow.steps import registries as artifact_steps
from rcflow.steps.base import REPOSITORY_CHECKS, Facts, Param, StepBase
from rcflow.steps.history import decision, event_done, tag_version
from rcflow.steps.hooks import pending_hooks
from rcflow.steps.ladder import chosen_stage, since_previous
from rcflow.steps.publishing import carry_blockers, publish_release
from rcflow.steps.unfinished import unfinished_rollback
from rcflow.steps.version_commits import head_texts, version_commit, work_texts

if TYPE_CHECKING:
    from rcflow.model.effects import (
        Effect,
    )


@dataclass(frozen=True)
class PromoteArgs:
    to: str | None = None  # a ladder stage; None (or "final"): the final release


def _evidence(c: Candidate) -> str:
    lines = [
        f"- {r.name}: {'passed' if r.passed else 'failed'} ({r.time})"
        + (f" {r.kind} {r.url}" if r.url else "")
        for r in c.results
    ]
    return "\n".join(lines) or "- signed off with no validations configured"


def _notes(facts: Facts, version: Version, tag: str, rc_tag: str) -> str:
    """The final's notes: the commits up to the RC's commit (not what the branch got since)."""
    s, config, release = facts.snapshot, facts.config, facts.release
    rc_sha = s.tag_commit(rc_tag)
    commits = list(s.commits_since_final)
    shas = [c.sha for c in commits]
    if rc_sha in shas:
        commits = commits[shas.index(rc_sha) :]
    previous = (
        tag_name(release.last_final, tag_prefix=config.tag_prefix, rc_token=config.rc_token)
        if release.last_final and release.last_final != version
        else None
    )
    text = render_notes(
        facts.render, commits, version=version, tag=tag, previous_tag=previous, prerelease=False
    )
    return f"{text}\nPromoted from {rc_tag}" + (f" ({rc_sha[:7]})" if rc_sha else "") + ".\n"


def _finish(facts: Facts, tag: str, version: Version, rc_tag: str) -> list[Effect]:
    """What completes a final tag that exists: pushed, released with the RC's assets, recorded."""
    from rcflow.model.effects import PushTag, RecordEvent

    s, config = facts.snapshot, facts.config
    event = decision(s, EventKind.PROMOTING, tag)
    # Images and packages before the tag reaches anyone, as the promotion decided them.
    effects: list[Effect] = []
    if event is not None:
        effects += artifact_steps.promote_artifacts(s, config, tag, version, rc_tag, event)[0]
    if tag not in s.remote_tags:
        effects.append(PushTag(s.remote, tag))
    # The notes were decided with the promotion: a resumed run publishes the same text even when
    # the final tag now hides the commits it was made from.
    notes = str(event.data.get("notes") or "") if event else ""
    notes = notes or _notes(facts, version, tag, rc_tag)
    effects += publish_release(
        s, config, tag, str(version), notes, prerelease=False, carry_from=rc_tag
    )
    if not event_done(s, EventKind.PROMOTED, tag):
        data = {"version": str(version), "rc": rc_tag, "sha": s.tag_commit(tag)}
        effects.append(RecordEvent(EventKind.PROMOTED, tag, data))
    effects += pending_hooks(s, config, event, tag)
    return effects


def _refusal(release: Release) -> str:
    latest = release.latest
    if release.state is State.CANDIDATE and latest is not None:
        stale = [r.name for r in latest.results if r.passed and r.expired and r.required]
        if stale:
            return (
                f"{latest.tag}: {', '.join(stale)} passed longer ago than max_age allows: "
                "run `rcflow validate` to validate it again"
            )
        return f"{latest.tag} has not passed validation: run `rcflow validate`"
    if release.state is State.REJECTED and latest is not None:
        failed = ", ".join(r.name for r in latest.results if not r.passed and r.required)
        return (
            f"{latest.tag} failed validation ({failed}): fix it, then cut a new RC with `rcflow rc`"
        )
    if release.state is State.BUMPED:
        return f"{release.target} has no release candidate yet: run `rcflow rc`"
    return "no release in flight: run `rcflow bump` first"


def _validated_rc_sha(s: Snapshot, config: Config, base: Version) -> str | None:
    """The commit of base's newest live RC, when rcflow validated it."""
    withdrawn = {e.key for e in s.ledger if e.kind == EventKind.RC_WITHDRAWN}
    numbered = [
        (v.rc, name)
        for name in s.all_tags
        if name not in withdrawn
        and (v := tag_version(name, config)) is not None
        and v.rc is not None
        and v.base == base
    ]
    sha = s.tag_commit(max(numbered)[1]) if numbered else None
    if sha is None:
        return None
    validated = any(
        e.kind == EventKind.VALIDATE_COMPLETED and e.data.get("sha") == sha for e in s.ledger
    )
    return sha if validated else None


def _check_final_tag(
    s: Snapshot, config: Config, version: Version, tag: str, started: list[Event]
) -> None:
    """A final tag rcflow did not promote, at another commit than the RC: stop, change nothing.

    Whether it was there before the promotion or pushed by someone while an interrupted one
    waited to be finished, finishing would publish and record a commit nobody validated.
    """
    actual = s.tag_commit(tag)
    if actual is None or event_done(s, EventKind.PROMOTED, tag) or config.rc_in_files:
        return  # rc_in_files: the final commit is not the RC's; apply proves it before tagging
    expected = (
        str(started[-1].data.get("sha") or "") if started else _validated_rc_sha(s, config, version)
    )
    if expected and actual != expected:
        where = f"on {s.remote}" if tag in s.remote_tags else "here"
        raise ConflictError(
            f"tag {tag} exists {where} at {actual[:7]}, not at the validated RC commit "
            f"{expected[:7]}: nothing was changed",
            hint=f"delete the stray tag {tag} if it is a mistake, then re-run rcflow promote",
        )


def plan(facts: Facts, args: PromoteArgs) -> Plan:
    from rcflow.model.effects import (
        CreateTag,
        PushBranch,
        PushTag,
        RecordEvent,
        VerifyVersionOnlyDiff,
    )

    s, config, release = facts.snapshot, facts.config, facts.release
    new = partial(Plan, "promote", release.state.value, s.fingerprint())
    prefix, token = config.tag_prefix, config.rc_token
    refusals: list[str] = []
    if unfinished_rollback(s, config, release) or release.reverting is not None:
        refusals.append("a rollback is unfinished: run `rcflow rollback` to complete it first")
    to = chosen_stage(config, args.to, "--to") if args.to not in (None, "final") else None
    if to is not None:
        return to_stage(facts, to, refusals)

    if release.target is None:
        # Nothing in flight: the files' version may be a final whose promotion was interrupted,
        # or the development version that promotion committed after it (`next_version`).
        v = release.files_version
        if v is None and release.files_dev is not None:
            v = release.last_final
        tag = tag_name(v.base, tag_prefix=prefix, rc_token=token) if v is not None else ""
        started = [e for e in s.ledger if e.kind == EventKind.PROMOTING and e.key == tag]
        if v is not None and tag not in release.retracted:
            _check_final_tag(s, config, v.base, tag, started)
        if v is None or not started or tag in release.retracted:
            return new(blockers=(*refusals, _refusal(release)))
        rc_tag = str(started[-1].data.get("rc"))
        finishing = _finish(facts, tag, v.base, rc_tag)
        refusals += carry_blockers(s, rc_tag, tag)
        dev, found = next_development(facts, v.base, tag)
        finishing += dev
        refusals += [r for r in found if r not in refusals]
        return new(
            effects=tuple(finishing) if not refusals else (),
            blockers=tuple(refusals),
            done=f"{tag} is released (promoted from {rc_tag})",
            subject={"version": str(v.base), "tag": tag, "rc_tag": rc_tag},
        )

    target = release.target
    latest = release.latest
    if latest is not None and (skipped := _skipped(config, latest.stage)):
        last = config.ladder[-1].name
        return new(
            blockers=(
                *refusals,
                f"{latest.tag} is at {latest.stage}: the final is promoted from {last}; run "
                f"`rcflow promote --to {skipped[0]}` first ({', '.join(skipped)} not in "
                "skip_allowed)",
            )
        )
    if release.state is not State.VALIDATED or latest is None:
        return new(blockers=(*refusals, _refusal(release)))
    tag = tag_name(target, tag_prefix=prefix, rc_token=token)
    subject = {
        "version": str(target),
        "tag": tag,
        "rc": latest.number,
        "rc_tag": latest.tag,
        "sha": latest.sha,
    }
    message = (
        f"Release {target}\n\nPromoted from {latest.tag} ({latest.sha}).\n"
        f"Validation evidence:\n{_evidence(latest)}\n"
    )
    # The decision comes first, so an interrupted promotion is recognised and finished, not
    # mistaken for a final tag someone made by hand.
    hooks = ["after_promote"] if config.hooks.after_promote else []
    notes = _notes(facts, target, tag, latest.tag)
    resumed = decision(s, EventKind.PROMOTING, tag)
    if resumed is not None and resumed.data.get("rc") == latest.tag and resumed.data.get("notes"):
        # A promotion of this RC whose tag never reached the remote: finish that same decision
        # (a final tag made here hides the commits its notes were drawn from).
        notes = str(resumed.data["notes"])
    promoting = RecordEvent(
        EventKind.PROMOTING,
        tag,
        {
            "rc": latest.tag,
            "sha": latest.sha,
            "hooks": hooks,
            "notes": notes,
            **artifact_steps.promised(config),
        },
    )
    effects: list[Effect] = [promoting]
    refusals += carry_blockers(s, latest.tag, tag)
    # Images and packages first: whoever sees the final tag can pull and install what it names.
    shipped, found = artifact_steps.promote_artifacts(s, config, tag, target, latest.tag)
    effects += shipped
    refusals += found
    if not config.rc_in_files:
        effects.append(CreateTag(tag, latest.sha, message))
    else:
        fv = release.files_version
        if fv is not None and fv.rc is not None:
            # The final commit must follow the validated RC directly, or the proof cannot hold.
            if s.head != latest.sha:
                refusals.append(
                    f"{s.release_branch} moved since {latest.tag}: with rc_in_files the final "
                    "commit must follow the RC directly; cut a new RC with `rcflow rc`"
                )
            try:
                commit, found = version_commit(facts, target, f"chore(release): {target}")
            except (VersionFileError, VersionError) as exc:
                return new(blockers=(*refusals, exc.message))
            effects += commit
            refusals += found
        else:
            refusals.extend(facts.git_blockers(head_pushed=False))
        rc_version = target.with_rc(latest.number)
        allowed = tuple(
            (
                f.file.path,
                rc_version.render(f.spelling, tag_prefix=prefix, rc_token=token),
                target.render(f.spelling, tag_prefix=prefix, rc_token=token),
            )
            for f in read_versions(config, head_texts(s))
        )
        effects += [
            VerifyVersionOnlyDiff(latest.tag, latest.sha, str(rc_version), str(target), allowed),
            PushBranch(s.remote, s.release_branch),
            CreateTag(tag, None, message),
        ]
    effects.append(PushTag(s.remote, tag))
    effects += publish_release(
        s,
        config,
        tag,
        str(target),
        notes,
        prerelease=False,
        carry_from=latest.tag,
    )
    effects.append(
        RecordEvent(
            EventKind.PROMOTED, tag, {"version": str(target), "rc": latest.tag, "sha": latest.sha}
        )
    )
    effects += pending_hooks(s, config, promoting, tag)
    later: tuple[str, ...] = ()
    if config.next_version is not None and config.rc_in_files:
        # The final commit does not exist yet, so the development commit has no parent to
        # name; the next run finds the final in the files and commits it.
        later = ("run `rcflow promote` again to commit the next development version",)
    else:
        dev, found = next_development(facts, target, tag)
        effects += dev
        refusals += [r for r in found if r not in refusals]
    return new(
        effects=tuple(effects) if not refusals else (),
        blockers=tuple(refusals),
        subject=subject,
        notes=later,
    )


def development_subject(version: Version) -> str:
    return f"chore(release): start development of {version}"


def next_development(facts: Facts, final: Version, tag: str) -> tuple[list[Effect], list[str]]:
    """With `next_version`: commit and push the development version of the next minor release
    once `final` is out, as pip, etcd and Maven projects do. Effects and git refusals.

    Each piece is planned from what git shows, so a re-run after a crash finishes it: the files
    still say `final` (write, commit, push), HEAD is our unpushed commit (push), the ledger has
    no record (record). Files that moved past `final` are left alone.
    """
    from rcflow.model.effects import Commit, PushBranch, RecordEvent, WriteVersionFiles

    s, config, release = facts.snapshot, facts.config, facts.release
    if config.next_version is None:
        return [], []
    following = final.bump("minor")
    subject = development_subject(following)
    head = s.commits_since_final[0] if s.commits_since_final else None
    ours = head is not None and head.sha == s.head and head.subject == subject
    effects: list[Effect] = []
    refusals: list[str] = []
    if ours:
        if not s.head_on_remote:
            effects.append(PushBranch(s.remote, s.release_branch))
    elif release.files_version == final:
        try:
            contents = rewrite_dev(config, head_texts(s), following, config.next_version)
        except (VersionFileError, VersionError) as exc:
            return [], [exc.message]
        works = work_texts(s)
        resumable = [p for p in contents if works.get(p) == contents[p]]
        paths = tuple(sorted(contents))
        text = render_dev(
            following,
            release.found[0].spelling,
            config.next_version,
            tag_prefix=config.tag_prefix,
        )
        effects += [
            WriteVersionFiles(
                text,
                tuple((p, contents[p]) for p in paths),
                tuple((p, works.get(p)) for p in paths),
            ),
            Commit(paths, f"{subject}\n\nThe version files move on after {tag}.\n", s.head or ""),
            PushBranch(s.remote, s.release_branch),
        ]
        refusals += facts.git_blockers(allow_dirty=resumable)
    else:
        return [], []
    if not event_done(s, EventKind.NEXT_VERSION, tag):
        effects.append(RecordEvent(EventKind.NEXT_VERSION, tag, {"version": str(following)}))
    return effects, refusals


class Promote(StepBase[PromoteArgs]):
    name = "promote"
    help = "Tag the validated RC's commit vX.Y.Z and push it; refused unless validation passed."
    # Every version reference agrees with the final; a pre-release has soaked long enough.
    checks = ("versions", *REPOSITORY_CHECKS, "soak")

    params = (
        Param(
            "to",
            str | None,
            None,
            "Promote to this stage of the ladder (default: the final release).",
            flags=("--to",),
        ),
    )

    def args(self, values: Mapping[str, Any]) -> PromoteArgs:
        return PromoteArgs(to=values.get("to"))

    def resume_args(self, args: PromoteArgs) -> list[str]:
        return ["--to", args.to] if args.to else []

    def plan(self, facts: Facts, args: PromoteArgs) -> Plan:
        return plan(facts, args)


STEP = Promote()


def _skipped(config: Config, current: str) -> list[str]:
    """The stages above current that promoting to the final would pass over: the final comes
    from the last stage unless `skip_allowed` names the ones between."""
    names = [st.name for st in config.ladder]
    if current not in names:
        return []
    return [n for n in names[names.index(current) + 1 :] if n not in config.skip_allowed]


def to_stage(facts: Facts, to: StageConfig, refusals: list[str]) -> Plan:
    """promote --to STAGE: tag the validated pre-release's exact commit at a higher stage.

    No rebuild: the assets are carried byte for byte (SHA256SUMS), each image's recorded digest
    is tagged with the stage's spelling, the dists of the stage's version are published when
    `publish_rc` asks for pre-release packages. The new tag is a pre-release like any cut one:
    validated by the validations of its stage, rolled back by withdrawing it.
    """
    from rcflow.model.effects import CreateTag, PushTag, RecordEvent

    s, config, release = facts.snapshot, facts.config, facts.release
    new = partial(Plan, "promote", release.state.value, s.fingerprint())
    latest, target = release.latest, release.target
    names = [st.name for st in config.ladder]
    if target is None or latest is None:
        return new(blockers=(*refusals, _refusal(release)))
    if latest.stage == to.name:
        return _finish_stage(facts, to, latest, refusals)
    if names.index(to.name) < names.index(latest.stage):
        return new(
            blockers=(
                *refusals,
                f"--to {to.name} is below {latest.tag}'s stage ({latest.stage}): promotion goes "
                f"up the ladder ({' → '.join(names)} → final)",
            )
        )
    skipped = [
        n
        for n in names[names.index(latest.stage) + 1 : names.index(to.name)]
        if n not in config.skip_allowed
    ]
    if skipped:
        return new(
            blockers=(
                *refusals,
                f"promoting {latest.tag} to {to.name} would skip {', '.join(skipped)}: run "
                f"`rcflow promote --to {skipped[0]}` first, or add it to skip_allowed",
            )
        )
    if release.state is not State.VALIDATED:
        return new(blockers=(*refusals, _refusal(release)))
    number = max(release.used(to.name), default=0) + 1
    version = target.at_stage(to.word, number)
    tag = tag_name(version, tag_prefix=config.tag_prefix, rc_token=config.rc_token)
    if tag in s.all_tags:
        refusals.append(f"{tag} already exists at {(s.tag_commit(tag) or '')[:7]}")
    message = (
        f"Pre-release {version}\n\nPromoted from {latest.tag} ({latest.sha}).\n"
        f"Validation evidence:\n{_evidence(latest)}\n"
    )
    effects: list[Effect] = []
    shipped, found = artifact_steps.promote_artifacts(
        s, config, tag, version, latest.tag, pre_release=True
    )
    effects += shipped
    refusals += found
    refusals += carry_blockers(s, latest.tag, tag)
    notes = _stage_notes(facts, version, tag, latest.tag)
    effects += [CreateTag(tag, latest.sha, message), PushTag(s.remote, tag)]
    effects += publish_release(
        s, config, tag, str(version), notes, prerelease=True, carry_from=latest.tag
    )
    data = {
        "sha": latest.sha,
        "version": str(target),
        "rc": number,
        "stage": to.name,
        "from": latest.tag,
    }
    effects.append(RecordEvent(EventKind.RC_TAGGED, tag, data))
    subject = {
        "version": str(target),
        "tag": tag,
        "rc": number,
        "stage": to.name,
        "rc_tag": latest.tag,
        "sha": latest.sha,
    }
    return new(
        effects=tuple(effects) if not refusals else (), blockers=tuple(refusals), subject=subject
    )


def _stage_notes(facts: Facts, version: Version, tag: str, source: str) -> str:
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
    sha = s.tag_commit(source)
    return (
        text
        + since_previous(facts, sha, source)
        + f"\nPromoted from {source}"
        + (f" ({sha[:7]})" if sha else "")
        + ", no rebuild.\n"
    )


def _finish_stage(facts: Facts, to: StageConfig, latest: Candidate, refusals: list[str]) -> Plan:
    """The pre-release at `to` exists: finish what an interrupted promotion left, or say done."""
    from rcflow.model.effects import PushTag, RecordEvent

    s, config, release = facts.snapshot, facts.config, facts.release
    new = partial(Plan, "promote", release.state.value, s.fingerprint())
    source = next(
        (
            c
            for c in reversed(release.candidates)
            if c.sha == latest.sha and c.stage != to.name and c is not latest
        ),
        None,
    )
    subject = {"tag": latest.tag, "stage": to.name, "sha": latest.sha}
    done = f"{latest.tag} is the current pre-release at {to.name} ({latest.sha[:7]})"
    if source is None:
        # Cut at this stage, not promoted to it: there is nothing to promote it from.
        return new(
            blockers=(
                *refusals,
                f"--to {to.name}: {latest.tag} is already at {to.name}; promotion goes up the "
                f"ladder ({' → '.join(st.name for st in config.ladder)} → final)",
            ),
            subject=subject,
        )
    version = latest.version or Version(0, 0, 0)
    effects: list[Effect] = []
    effects += artifact_steps.promote_artifacts(
        s, config, latest.tag, version, source.tag, pre_release=True
    )[0]
    if latest.tag not in s.remote_tags:
        effects.append(PushTag(s.remote, latest.tag))
    notes = _stage_notes(facts, version, latest.tag, source.tag)
    effects += publish_release(
        s, config, latest.tag, str(version), notes, prerelease=True, carry_from=source.tag
    )
    if not event_done(s, EventKind.RC_TAGGED, latest.tag):
        data = {
            "sha": latest.sha,
            "version": str(version.base),
            "rc": latest.number,
            "stage": to.name,
            "from": source.tag,
        }
        effects.append(RecordEvent(EventKind.RC_TAGGED, latest.tag, data))
    refusals += carry_blockers(s, source.tag, latest.tag)
    return new(
        effects=tuple(effects) if not refusals else (),
        blockers=tuple(refusals),
        done=done,
        subject=subject,
    )
