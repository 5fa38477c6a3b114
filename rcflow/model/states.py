"""The release states, derived — never stored — from a Snapshot: `classify(snapshot, config)`.

Tags (local and remote), the version files at HEAD and the ledger are the only inputs, so a
fresh CI runner and a maintainer's laptop compute the same state from the same git facts.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from enum import StrEnum

from rcflow.errors import ConfigError, VersionError, VersionFileError
from rcflow.model import ledger
from rcflow.model.config import (
    Config,
    ValidationConfig,
    committed_validations,
    parse_stage_tag,
    stage_of,
    tag_spelling,
)
from rcflow.model.events import EventKind
from rcflow.model.ledger import Event
from rcflow.model.snapshot import Snapshot
from rcflow.model.tags import TagVersions
from rcflow.model.version import Version, parse_tag
from rcflow.model.version_files import (
    FoundVersion,
    dev_mismatches,
    mismatches,
    primary_dev,
    primary_version,
    read_versions,
    unreadable,
)
from rcflow.ports.forge import draft_tags
from rcflow.record import dataclass


class State(StrEnum):
    IDLE = "idle"
    BUMPED = "bumped"
    CANDIDATE = "candidate"
    VALIDATED = "validated"
    REJECTED = "rejected"
    RELEASED = "released"
    RETRACTED = "retracted"


# Commands a state allows next (the transition table of DESIGN §2).
NEXT: dict[State, tuple[str, ...]] = {
    State.IDLE: ("bump",),
    State.BUMPED: ("rc", "bump", "rollback"),
    State.CANDIDATE: ("validate", "rc", "rollback"),
    State.REJECTED: ("rc", "validate", "rollback"),
    State.VALIDATED: ("promote", "rc", "rollback"),
    State.RELEASED: ("bump", "rollback"),
    State.RETRACTED: ("bump",),
}


@dataclass(frozen=True)
class ValidationResult:
    name: str
    passed: bool
    sha: str
    time: str
    duration: float
    detail: str
    required: bool
    kind: str = "command"  # "command" | "workflow" | "checks"
    url: str | None = None  # the workflow run or check that decided it
    conclusion: str | None = None  # "success", "failure", "cancelled", "timed_out", ...
    expired: bool = False  # a pass older than the validation's max_age: it no longer counts
    ran: str | None = None  # what ran: the command, the workflow and inputs, the check names

    @property
    def counts(self) -> bool:
        """Whether this is a pass that still counts for promotion."""
        return self.passed and not self.expired


@dataclass(frozen=True)
class Candidate:
    number: int
    tag: str
    sha: str
    local: bool
    remote: bool
    results: tuple[ValidationResult, ...]
    completed: bool  # a `validate` run finished for this sha (evidence even with no validations)
    # The [[validate]] entries committed at this RC's commit (None: not known, the working
    # tree's apply): they decide what runs for it and which results are required.
    validations: tuple[ValidationConfig, ...] | None = None
    config_source: str | None = None  # where they came from: "rcflow.toml at abc1234"
    stage: str = "rc"  # the ladder stage it is a pre-release of
    version: Version | None = None  # its version (stage and number)


@dataclass(frozen=True)
class Release:
    state: State
    last_final: Version | None  # the current release (newest final not retracted)
    # The newest two finals not retracted, oldest first: the current release and the one a
    # rollback falls back to (not thousands of versions long released).
    finals: tuple[Version, ...]
    highest_final: Version | None  # newest final ever, retracted ones included
    files_version: Version | None
    target: Version | None  # the version in flight
    candidates: tuple[Candidate, ...]  # live RCs of the target, oldest first
    used_rc_numbers: frozenset[int]
    withdrawn_tags: frozenset[str]  # RC tags the ledger withdrew (their numbers stay used)
    retracted: frozenset[str]  # final tags the ledger retracted
    found: tuple[FoundVersion, ...]
    problems: tuple[str, ...]  # facts that disagree: drift between local and remote, files
    next: tuple[str, ...]
    reverting: Version | None = None  # a bump revert the ledger decided and the remote lacks
    # Between releases: the final the files' development version (1.5.0.dev0) leads to. Not in
    # flight: `bump` is what writes a release version, so the state stays idle/released.
    files_dev: Version | None = None
    # Our tags that differ between this clone and the remote (moved, or never pushed): what
    # `status` calls out of sync, as a fact rather than a reading of the problem texts.
    unsynced_tags: frozenset[str] = frozenset()
    # Every number each stage used for the target, withdrawn ones included (by stage name).
    used_numbers: tuple[tuple[str, frozenset[int]], ...] = ()

    @property
    def latest(self) -> Candidate | None:
        return self.candidates[-1] if self.candidates else None

    @property
    def stage(self) -> str | None:
        """The current stage: the newest live pre-release's, None with none in flight."""
        return self.latest.stage if self.latest is not None else None

    def used(self, stage: str) -> frozenset[int]:
        return dict(self.used_numbers).get(stage, frozenset())


def validation_results(
    events: Iterable[Event],
    sha: str,
    config: Config,
    now: float | None = None,
    validations: tuple[ValidationConfig, ...] | None = None,
) -> tuple[tuple[ValidationResult, ...], bool]:
    """The newest result per validation name for sha, and whether a validate run completed.

    One model for every kind (a command, a workflow run, checks). With `now`, a pass older than
    its validation's `max_age` is marked expired. `validations`: the RC commit's own.
    """
    configured = {v.name: v for v in (config.validations if validations is None else validations)}
    latest: dict[str, ValidationResult] = {}
    completed = False
    for e in events:
        if e.data.get("sha") != sha:
            continue
        if e.kind in (EventKind.VALIDATION_PASSED, EventKind.VALIDATION_FAILED):
            name = e.key.rsplit("/", 1)[-1]
            v = configured.get(name)
            passed = e.kind == EventKind.VALIDATION_PASSED
            url = e.data.get("url")
            conclusion = e.data.get("conclusion")
            latest[name] = ValidationResult(
                name=name,
                passed=passed,
                sha=sha,
                time=e.time,
                duration=float(e.data.get("duration", 0.0)),
                detail=str(e.data.get("detail", "")),
                required=v.required if v is not None else False,
                kind=str(e.data.get("kind") or "command"),
                url=str(url) if url else None,
                conclusion=str(conclusion) if conclusion else ("success" if passed else None),
                expired=passed
                and now is not None
                and v is not None
                and v.max_age is not None
                and now - _epoch(e.time) > v.max_age,
                ran=str(e.data["ran"]) if e.data.get("ran") else None,
            )
        elif e.kind == EventKind.VALIDATE_COMPLETED:
            completed = True
    # In the configured order, not the ledger's: results are recorded as they finish.
    order = {name: i for i, name in enumerate(configured)}
    ranked = sorted(latest.values(), key=lambda r: order.get(r.name, len(order)))
    return tuple(ranked), completed


def _epoch(iso: str) -> float:
    # An unreadable time is as old as time: a max_age never trusts it.
    return ledger.from_iso(iso) or 0.0


def pending_dispatches(events: Iterable[Event], tag: str, sha: str) -> dict[str, Event]:
    """Workflow dispatches for sha that have no result yet, by validation name.

    The newest event about `tag/name` for this sha decides: a `validation_dispatching` or
    `validation_dispatched` after the last result is a run in flight, to re-attach to.
    """
    pending: dict[str, Event] = {}
    prefix = f"{tag}/"
    for e in events:
        if not e.key.startswith(prefix) or e.data.get("sha") != sha:
            continue
        name = e.key[len(prefix) :]
        if e.kind in (EventKind.VALIDATION_DISPATCHING, EventKind.VALIDATION_DISPATCHED):
            pending[name] = e
        elif e.kind in (
            EventKind.VALIDATION_PASSED,
            EventKind.VALIDATION_FAILED,
            EventKind.VALIDATION_NOT_DISPATCHED,
        ):
            pending.pop(name, None)
    return pending


def candidate_state(c: Candidate, config: Config) -> State:
    by_name = {r.name: r for r in c.results}
    validations = config.validations if c.validations is None else c.validations
    required = [v.name for v in validations if v.required and v.applies(c.stage)]
    if any(name in by_name and not by_name[name].passed for name in required):
        return State.REJECTED
    if c.completed and all(name in by_name and by_name[name].counts for name in required):
        return State.VALIDATED
    return State.CANDIDATE


def classify(s: Snapshot, config: Config) -> Release:
    problems: list[str] = []
    unsynced: set[str] = set()
    prefix, token = config.tag_prefix, config.rc_token
    unpushed = unpushed_promotions(s)
    index = _tag_index(s, config)
    # Finals by (major, minor, patch): a Version is built only for the few that are read.
    final_tags = dict(index.finals)
    for tag in unpushed:
        v = index.get_version(tag)
        if v is not None and v.rc is None and final_tags.get(_base(v)) == tag:
            del final_tags[
                _base(v)
            ]  # a promotion whose tag never reached the remote: not a release
    local_tags, remote_tags = s.local_tags, s.remote_tags
    # Only tags whose commit differs here and there can be out of sync: a set difference, not a
    # look at each of thousands of tags.
    # In a clone in sync (most reads) the two are equal: one comparison in C, no set built.
    differ = local_tags.items() - remote_tags.items() if local_tags != remote_tags else ()
    for name in sorted(n for n, _ in differ):
        v = index.get_version(name)
        if v is None or (v.rc is None and name in unpushed):
            continue
        local, remote = local_tags.get(name), remote_tags.get(name)
        if local and remote and local != remote:
            unsynced.add(name)
            problems.append(f"tag {name} is at {local[:7]} here but at {remote[:7]} on {s.remote}")
        elif local and not remote and s.remote_reachable:
            unsynced.add(name)
            problems.append(f"tag {name} exists here but not on {s.remote}")

    # Kinds bound once: an enum member looked up per event costs more than the loop itself
    # over the thousands of closed releases' events a checkpoint keeps as stubs.
    kind_retracted, kind_withdrawn = EventKind.RETRACTED, EventKind.RC_WITHDRAWN
    decisions = ledger.unstubbed(s.ledger)  # never a closed release's stub: fewer to pass over
    retracted = frozenset(e.key for e in decisions if e.kind == kind_retracted)
    for tag in retracted:
        # A retracted release whose tag was deleted (`rollback --delete-tag`) still used its
        # number: it stays among the finals so no later bump can release that version again.
        v = parse_tag(tag, tag_prefix=prefix, rc_token=token)
        if v is not None and v.rc is None:
            final_tags.setdefault(_base(v), tag)
    withdrawn = frozenset(e.key for e in decisions if e.kind == kind_withdrawn)
    for tag in sorted(t for t in withdrawn if t in local_tags or t in remote_tags):
        problems.append(f"tag {tag} was withdrawn but still exists; `rcflow rollback` removes it")
    # The newest finals, enough of them that two are not retracted: the current release and
    # the one a rollback falls back to. Plain tuples order them (no Version per tag).
    ranked = heapq.nlargest(len(retracted) + 2, final_tags)
    live = [b for b in ranked if final_tags[b] not in retracted][:2]
    live_finals = [Version(*b) for b in reversed(live)]
    last_final = live_finals[-1] if live_finals else None
    highest_final = Version(*ranked[0]) if ranked else None

    def final_tag(v: Version) -> str:
        return final_tags[_base(v)]

    found: list[FoundVersion] = []
    texts = {f.path: f.head_text for f in s.files}
    files_error = False
    try:
        found = read_versions(config, texts)
    except (VersionFileError, VersionError) as exc:
        problems.append(f"{exc.message}: fix the file or its [[version_file]] in the config")
        files_error = True
    if not config.version_files:
        problems.append("no version file: add a [[version_file]] to the config")
        files_error = True
    files_version = primary_version(found)
    files_dev = primary_dev(found)
    if found and files_version is not None:
        problems.extend(mismatches(found, files_version, config))
    elif files_dev is not None:
        problems.extend(
            _dev_problems(found, files_dev, final_tag, highest_final, last_final, config)
        )
    elif found and (bad := unreadable(found)) is not None:
        problems.append(
            f"{bad.where}: {bad.ref.key} is {bad.ref.value!r}, not a version rcflow can read: "
            "`rcflow bump X.Y.Z` writes the version you name into it"
        )

    target: Version | None = None
    if files_version is not None:
        base = files_version.base
        if _base(base) in final_tags:
            target = None
        elif highest_final is not None and base < highest_final:
            problems.append(
                f"the version files say {files_version} but {final_tag(highest_final)} is released"
            )
        else:
            target = base

    reverting = pending_bump_revert(s, config, texts)
    if reverting is not None:
        # The revert is decided (and maybe made here) but the remote still has the bump: the
        # state is the remote's, and `rollback` finishes the revert.
        target = target or reverting
        problems.append(
            f"the bump to {reverting} is reverted in the ledger but not on {s.remote}: "
            "`rcflow rollback` finishes it"
        )
    for tag, rc in sorted(unpushed.items()):
        if rc in withdrawn:
            if tag in s.local_tags:
                unsynced.add(tag)
                problems.append(
                    f"tag {tag} exists here but not on {s.remote}: its promotion was abandoned "
                    "when its RC was withdrawn; `rcflow rollback` removes it"
                )
        else:
            problems.append(
                f"the promotion of {tag} is unfinished: the tag is not on {s.remote}; "
                "`rcflow promote` finishes it"
            )

    used_by: dict[str, set[int]] = {}
    candidates: list[Candidate] = []
    if target is not None:
        target_rcs = {index[n]: n for n in index.pre_releases(_base(target))}
        for v in target_rcs:
            used_by.setdefault(stage_of(config, v).name, set()).add(v.rc or 0)
        cut = (EventKind.RC_TAGGED, EventKind.RC_WITHDRAWN)
        # Only the target's tags are parsed, not every RC the ledger recorded since the first.
        stem = f"{prefix}{target.major}.{target.minor}.{target.patch}-"
        for e in s.ledger:
            if e.kind in cut and e.key.startswith(stem):
                v = parse_stage_tag(e.key, config)
                if v is not None and v.base == target and v.rc is not None:
                    used_by.setdefault(stage_of(config, v).name, set()).add(v.rc)
        for pre, tag in sorted(target_rcs.items()):
            if tag in withdrawn:
                continue
            number = pre.rc or 0
            sha = s.tag_commit(tag) or ""
            own = rc_validations(s, sha)
            if isinstance(own, ConfigError):
                problems.append(f"{tag}: {own.message}; the working tree's validations apply")
                own = None
            results, completed = validation_results(
                s.ledger, sha, config, s.now, own[1] if own else None
            )
            candidates.append(
                Candidate(
                    number=number,
                    tag=tag,
                    sha=sha,
                    local=tag in s.local_tags,
                    remote=tag in s.remote_tags,
                    results=results,
                    completed=completed,
                    validations=own[1] if own else None,
                    config_source=own[0] if own else None,
                    stage=stage_of(config, pre).name,
                    version=pre,
                )
            )
        if config.stages:
            candidates = _newest_last(candidates, s.ledger)
    used = used_by.get(config.ladder[-1].name, set())

    if target is not None:
        state = candidate_state(candidates[-1], config) if candidates else State.BUMPED
    elif highest_final is not None and final_tag(highest_final) in retracted:
        state = State.RETRACTED
    elif last_final is not None and ledger.has(s.ledger, EventKind.PROMOTED, final_tag(last_final)):
        state = State.RELEASED
    elif last_final is not None and ledger.has(
        s.ledger, EventKind.PROMOTING, final_tag(last_final)
    ):
        # The final tag exists but the promotion stopped before it was recorded as done.
        state = State.RELEASED
        problems.append(
            f"the promotion of {final_tag(last_final)} is unfinished: `rcflow promote` completes it"
        )
    else:
        state = State.IDLE

    return Release(
        state=state,
        last_final=last_final,
        finals=tuple(live_finals),
        highest_final=highest_final,
        files_version=files_version,
        target=target,
        candidates=tuple(candidates),
        used_rc_numbers=frozenset(used),
        withdrawn_tags=withdrawn,
        retracted=retracted,
        found=tuple(found),
        files_dev=files_dev,
        problems=tuple(problems),
        next=_without_bump(
            ("promote", *NEXT[state])
            if any("promotion of" in p for p in problems) and "promote" not in NEXT[state]
            else ("rollback",)
            if reverting is not None
            else NEXT[state],
            files_error,
        ),
        reverting=reverting,
        unsynced_tags=frozenset(unsynced),
        used_numbers=tuple(sorted((k, frozenset(v)) for k, v in used_by.items())),
    )


def _base(v: Version) -> tuple[int, int, int]:
    return (v.major, v.minor, v.patch)


def _tag_index(s: Snapshot, config: Config) -> TagVersions:
    """Our tags by version: observe's index, or one made here from the snapshot's tags."""
    parsed = s.parsed_tags(tag_spelling(config))
    if isinstance(parsed, TagVersions):
        return parsed
    if parsed is not None:
        return TagVersions.of(parsed, config)
    return TagVersions(s.all_tags, config)


def _newest_last(candidates: list[Candidate], events: Iterable[Event]) -> list[Candidate]:
    """Pre-releases in the order they were cut or promoted (the ledger's), newest last.

    On a ladder a new commit may enter below the current stage: its beta.2 is newer than the
    rc.1 before it, which tag order alone would not say. Tags the ledger never recorded (a run
    that stopped before its event) come after the recorded ones, in ladder order.
    """
    order: dict[str, int] = {}
    tagged = EventKind.RC_TAGGED
    for index, e in enumerate(events):
        if e.kind == tagged:
            order.setdefault(e.key, index)
    unrecorded = len(order) + 1 << 20
    return sorted(
        candidates,
        key=lambda c: (order.get(c.tag, unrecorded), c.version or Version(0, 0, 0)),
    )


def forge_drift(s: Snapshot, release: Release, config: Config) -> tuple[str, ...]:
    """Where the forge and git disagree: what a person would fix by hand, or a re-run finishes.

    Both forges are shared (the local one lives on a ref of the remote), so every clone sees
    the same drift.
    """
    if s.forge_error is not None:
        return ()
    found: list[tuple[str, str]] = []  # (tag, what is wrong): tags without their release
    published = (EventKind.RC_TAGGED, EventKind.PROMOTED)
    recorded = {e.key: e.kind for e in s.ledger if e.kind in published}
    # The release in flight's RCs count even before their event: a run that stopped between
    # the push and the release leaves exactly that.
    recorded.update({c.tag: EventKind.RC_TAGGED for c in release.candidates if c.remote})
    names = frozenset(s.releases)  # a set: thousands of lookups, not a Mapping's in Python
    # Set operations over thousands of releases long published; only what disagrees is sorted.
    for tag in (recorded.keys() & s.remote_tags.keys()) - names:
        step = "rc" if recorded[tag] == EventKind.RC_TAGGED else "promote"
        found.append((tag, f"tag {tag} has no release on {s.forge}: `rcflow {step}` publishes it"))
    lease = ledger.current_lease(s.ledger)
    busy = lease is not None and lease.expires > s.now
    # Tags and drafts only: a release's other facts are not read for thousands of old ones.
    drafts = draft_tags(s.releases)
    index = _tag_index(s, config)
    first = [text for _, text in sorted(found)]
    found = []  # then releases without their tag, and drafts, in tag order
    for tag in names - s.remote_tags.keys() - release.retracted:
        if tag in drafts or (tag not in index and parse_stage_tag(tag, config) is None):
            continue  # not one of this release line's tags
        found.append((tag, f"release {tag} on {s.forge} has no tag {tag} on {s.remote}"))
    if not busy:
        for tag in drafts:
            if tag in index or parse_stage_tag(tag, config) is not None:
                found.append(
                    (
                        tag,
                        f"a draft release {tag} was left behind on {s.forge}: re-run the step "
                        "that made it, or delete the draft",
                    )
                )
    return (*first, *(text for _, text in sorted(found)))


def rc_validations(
    s: Snapshot, sha: str
) -> tuple[str, tuple[ValidationConfig, ...]] | ConfigError | None:
    """(source, validations) committed at an RC's commit; None when that commit was not read.

    Parsed from the snapshot's texts (no git here), so every clone judges the RC alike.
    """
    texts = s.rc_configs.get(sha)
    if texts is None:
        return None
    try:
        source, validations = committed_validations(*texts, at=sha[:7])
    except ConfigError as exc:
        return exc
    return f"{source} at {sha[:7]}", validations


REVERT_SUBJECT = "chore(release): revert bump to {}"


def unpushed_promotions(s: Snapshot) -> dict[str, str]:
    """{final tag: its RC} for promotions the ledger started whose tag is not on the remote.

    Such a tag exists at most in the clone that made it (its push was refused, or the run
    stopped before it): no release, in any clone, until `rcflow promote` pushes it.
    """
    if not s.remote_reachable:
        return {}
    found: dict[str, str] = {}
    promoting, ended = EventKind.PROMOTING, (EventKind.PROMOTED, EventKind.RETRACTED)
    # Most often no promotion started is off the remote: then the stubs need no pass.
    if not any(
        e.kind == promoting and e.key not in s.remote_tags for e in ledger.unstubbed(s.ledger)
    ):
        return found
    for e in s.ledger:
        if e.kind == promoting and e.key not in s.remote_tags:
            found[e.key] = str(e.data.get("rc") or "")
        elif e.kind in ended:
            found.pop(e.key, None)
    return found


def pending_bump_revert(s: Snapshot, config: Config, head: dict[str, str | None]) -> Version | None:
    """The version whose bump the ledger reverted while the remote branch still holds it."""
    decided: dict[str, Event] = {}
    reverted, bumped = EventKind.BUMP_REVERTED, EventKind.BUMPED
    for e in ledger.unstubbed(s.ledger):
        if e.kind == reverted:
            decided[e.key] = e
        elif e.kind == bumped:
            decided.pop(e.key, None)
    if not decided:
        return None
    texts = dict(s.remote_files) if s.remote_files is not None else head
    try:
        on_remote = primary_version(read_versions(config, texts))
    except (VersionFileError, VersionError):
        return None
    if on_remote is not None and str(on_remote.base) in decided:
        return on_remote.base
    return None


def _dev_problems(
    found: list[FoundVersion],
    dev: Version,
    final_tag: Callable[[Version], str],
    highest_final: Version | None,
    last_final: Version | None,
    config: Config,
) -> list[str]:
    """A development version that lags the releases, or files that disagree about it."""
    problems = dev_mismatches(found, dev, last_final, config)
    if highest_final is not None and not dev > highest_final:
        released = final_tag(highest_final)
        problems.append(
            f"the version files say {found[0].ref.value} but {released} is released: "
            "`rcflow bump` writes the next version"
        )
    return problems


def _without_bump(steps: tuple[str, ...], files_error: bool) -> tuple[str, ...]:
    # `bump` refuses while the version files cannot be read: status must not point at it.
    return tuple(n for n in steps if n != "bump") if files_error else steps


# --- the ladder's soak times (issue 15) -----------------------------------------------------------


def soak_started(events: Iterable[Event], tag: str, sha: str) -> float | None:
    """When the soak of a pre-release began: its tag's event in the ledger (never a local file
    time), restarted by each failed validation of its commit after it. None: not recorded."""
    start: float | None = None
    for e in events:
        if e.kind == EventKind.RC_TAGGED and e.key == tag and start is None:
            start = ledger.from_iso(e.time)
        elif (
            start is not None and e.kind == EventKind.VALIDATION_FAILED and e.data.get("sha") == sha
        ):
            start = max(start, ledger.from_iso(e.time) or start)
    return start


def _results_before_tag(events: Iterable[Event], tag: str, sha: str) -> set[str]:
    """Validations of sha whose newest result precedes tag's own event, in ledger order (times
    have whole seconds: a pass and a promotion up the ladder often share one)."""
    before: set[str] = set()
    tagged = False
    for e in events:
        if e.kind == EventKind.RC_TAGGED and e.key == tag:
            tagged = True
        elif (
            e.kind in (EventKind.VALIDATION_PASSED, EventKind.VALIDATION_FAILED)
            and e.data.get("sha") == sha
        ):
            name = e.key.rsplit("/", 1)[-1]
            if tagged:
                before.discard(name)
            else:
                before.add(name)
    return before if tagged else set()


def soak_left(s: Snapshot, config: Config, c: Candidate) -> float | None:
    """Seconds before `c` has soaked long enough to leave its stage; None: no soak applies,
    0 once it has (or -1.0 when the ledger does not say when it was cut)."""
    stage = next((st for st in config.ladder if st.name == c.stage), None)
    if stage is None or stage.soak is None:
        return None
    start = soak_started(s.ledger, c.tag, c.sha)
    if start is None:
        return -1.0
    return max(0.0, start + stage.soak - s.now)


def ladder_view(s: Snapshot, config: Config, release: Release) -> list[dict[str, object]]:
    """Each stage of the ladder with its live pre-releases, what validates it and its soak."""
    rows: list[dict[str, object]] = []
    for stage in config.ladder:
        own = [c for c in release.candidates if c.stage == stage.name]
        tags = []
        for c in own:
            validations = config.validations if c.validations is None else c.validations
            applies = {v.name for v in validations if v.applies(stage.name)}
            before = _results_before_tag(s.ledger, c.tag, c.sha)
            tags.append(
                {
                    "tag": c.tag,
                    "sha": c.sha,
                    "state": candidate_state(c, config).value,
                    "soak_left": soak_left(s, config, c),
                    # Results recorded before this tag existed came from a lower stage's tag
                    # of the same commit: evidence carried up the ladder.
                    "carried": sorted(r.name for r in c.results if r.name in applies & before),
                }
            )
        rows.append(
            {
                "name": stage.name,
                "word": stage.token,
                "pep440": stage.pep440,
                "soak": stage.soak,
                "skip_allowed": stage.name in config.skip_allowed,
                "validations": [
                    v.name for v in config.validations if v.applies(stage.name) and v.required
                ],
                "current": release.stage == stage.name,
                "used": sorted(release.used(stage.name)),
                "tags": tags,
            }
        )
    return rows


def ladder_moves(config: Config, release: Release) -> list[str]:
    """The stage moves legal now: cut at the current stage or below, promote one stage up (or
    past the ones skip_allowed names), or the final from the last stage."""
    names = [st.name for st in config.ladder]
    if release.target is None:
        return []
    current = release.stage
    if current is None:
        return [f"rc --stage {names[0]}"]
    at = names.index(current) if current in names else len(names) - 1
    moves = [f"rc --stage {n}" for n in names[: at + 1]]
    if release.state is State.VALIDATED:
        for n in names[at + 1 :]:
            moves.append(f"promote --to {n}")
            if n not in config.skip_allowed:
                break
        else:
            moves.append("promote")
    moves.append("rollback")
    return moves
