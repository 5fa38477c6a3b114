"""Effects: the typed, frozen changes a plan is made of. Each says in one line what it will do.

Effects are data. Only `apply` performs them, and before each it checks whether the effect
already holds, so a re-run after a crash skips what is done and stops on what contradicts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, ClassVar, Literal

from rcflow.model.config import PythonPackageConfig, ValidationConfig
from rcflow.model.events import EventKind
from rcflow.record import dataclass, field

Reach = Literal["ledger", "remote", "world"]


class Effect:
    """What a plan does, as data: each kind below is a frozen dataclass (rcflow.record's: the
    steps import thirty of them, which the standard decorator compiled one by one). The base
    holds no field, so it is no dataclass itself (a record class inherits no fields)."""

    kind: ClassVar[str] = "effect"
    # The ledger events applying it may append (the executor refuses any other): a plan shows
    # every ledger write an apply can make.
    records: ClassVar[tuple[EventKind, ...]] = ()

    def reach(self) -> Reach:
        """What applying it touches, which decides when the ledger events before it are pushed.

        "world": anything else — the clone, the forge, a registry, a command: the events before
        it are on the remote first (a resume must find a decision made before a local revert or
        tag, or it plans anew around them). "remote": a push to the release's remote, which
        carries them in the same atomic push (no tag without the events before it). "ledger":
        it only records an event, which waits for the next push.
        """
        return "world"

    def describe(self) -> str:
        raise NotImplementedError

    def writes(self) -> tuple[str, ...]:
        """The kinds of ledger event applying this effect may append."""
        return tuple(self.records)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "description": self.describe(),
            **asdict(self),  # type: ignore[call-overload]  # each kind is a dataclass
            "records": list(self.writes()),
        }


@dataclass(frozen=True)
class WriteVersionFiles(Effect):
    kind: ClassVar[str] = "write_version_files"
    version: str
    contents: tuple[tuple[str, str], ...]  # (path, new text)
    expected: tuple[tuple[str, str | None], ...]  # (path, text it had when planned)

    def describe(self) -> str:
        paths = ", ".join(p for p, _ in self.contents)
        return f"write version {self.version} into {paths}"


@dataclass(frozen=True)
class WriteFile(Effect):
    """`rcflow init`: create a file, or replace one only when the user said --force."""

    kind: ClassVar[str] = "write_file"
    path: str
    content: str
    overwrite: bool

    def describe(self) -> str:
        return f"{'overwrite' if self.overwrite else 'create'} {self.path}"


@dataclass(frozen=True)
class Commit(Effect):
    kind: ClassVar[str] = "commit"
    paths: tuple[str, ...]
    message: str
    parent: str  # HEAD when planned: the commit lands on exactly this parent

    def describe(self) -> str:
        return f"commit {', '.join(self.paths)}: {self.message.splitlines()[0]}"


@dataclass(frozen=True)
class VerifyVersionOnlyDiff(Effect):
    """rc_in_files promotion: prove the final commit differs from the RC only in versions."""

    kind: ClassVar[str] = "verify_version_only_diff"
    rc_tag: str
    rc_sha: str
    rc_version: str  # the RC version as rendered in files, per spelling (any of them)
    final_version: str
    allowed: tuple[tuple[str, str, str], ...]  # (path, old value, new value) the diff may change

    def describe(self) -> str:
        return f"prove the final commit differs from {self.rc_tag} only in version strings"


@dataclass(frozen=True)
class CreateTag(Effect):
    kind: ClassVar[str] = "create_tag"
    name: str
    target: str | None  # a commit; None = the commit the plan just made (HEAD at apply time)
    message: str

    def describe(self) -> str:
        where = self.target[:7] if self.target else "the new commit"
        return f"create annotated tag {self.name} on {where}"


@dataclass(frozen=True)
class PushTag(Effect):
    kind: ClassVar[str] = "push_tag"
    remote: str
    name: str

    def describe(self) -> str:
        return f"push tag {self.name} to {self.remote}"

    def reach(self) -> Reach:
        return "remote"


@dataclass(frozen=True)
class PushBranch(Effect):
    kind: ClassVar[str] = "push_branch"
    remote: str
    branch: str

    def describe(self) -> str:
        return f"push {self.branch} to {self.remote}"

    def reach(self) -> Reach:
        return "remote"


@dataclass(frozen=True)
class DeleteTag(Effect):
    kind: ClassVar[str] = "delete_tag"
    name: str
    remote: str | None  # None: the local tag; else the tag on that remote

    def describe(self) -> str:
        return f"delete tag {self.name} " + (f"on {self.remote}" if self.remote else "locally")

    def reach(self) -> Reach:
        return "remote" if self.remote is not None else "world"


@dataclass(frozen=True)
class RevertCommit(Effect):
    kind: ClassVar[str] = "revert_commit"
    sha: str
    message: str

    def describe(self) -> str:
        return f"revert {self.sha[:7]} with a new commit"


@dataclass(frozen=True)
class ResetBranch(Effect):
    """Drop an unpushed commit: only when it is HEAD, keeping any local changes (reset --keep)."""

    kind: ClassVar[str] = "reset_branch"
    drop: str
    to: str

    def describe(self) -> str:
        return f"drop the unpushed commit {self.drop[:7]} (reset to {self.to[:7]})"


@dataclass(frozen=True)
class CreateRelease(Effect):
    kind: ClassVar[str] = "create_release"
    tag: str
    title: str
    notes: str
    prerelease: bool
    draft: bool = False  # a final starts as a draft: assets go on before anyone can see it

    def describe(self) -> str:
        if self.draft:
            return f"create the draft release {self.tag} on the forge"
        what = "prerelease" if self.prerelease else "release"
        return f"publish the {what} {self.tag} on the forge"


@dataclass(frozen=True)
class BuildAssets(Effect):
    """Run `[assets] build` in a clean worktree of the RC and stage the files it made."""

    kind: ClassVar[str] = "build_assets"
    tag: str
    sha: str | None  # None: the commit the plan just made (HEAD at apply time)
    version: str  # semver spelling
    pep440: str
    command: str | None  # None: the files are committed; only collect them
    files: tuple[str, ...]  # globs, relative to the worktree
    timeout: float

    def describe(self) -> str:
        what = f"run `{self.command}` and collect" if self.command else "collect"
        where = self.sha[:7] if self.sha else "the new commit"
        return f"{what} {', '.join(self.files)} for {self.tag} from {where}"


@dataclass(frozen=True)
class UploadAssets(Effect):
    """Upload the staged assets of tag, with their SHA256SUMS, skipping what is there."""

    kind: ClassVar[str] = "upload_assets"
    tag: str

    def describe(self) -> str:
        return f"upload the assets of {self.tag} with SHA256SUMS"


@dataclass(frozen=True)
class CarryAssets(Effect):
    """Copy the RC's assets byte for byte onto the final's draft, verified by the RC's sums."""

    kind: ClassVar[str] = "carry_assets"
    source: str
    tag: str

    def describe(self) -> str:
        return f"carry the assets of {self.source} over to {self.tag}, verified by SHA256SUMS"


@dataclass(frozen=True)
class PublishRelease(Effect):
    kind: ClassVar[str] = "publish_release"
    tag: str
    latest: bool = True

    def describe(self) -> str:
        return f"publish the release {self.tag}" + (" as latest" if self.latest else "")


@dataclass(frozen=True)
class MarkLatest(Effect):
    kind: ClassVar[str] = "mark_latest"
    tag: str

    def describe(self) -> str:
        return f"make {self.tag} the latest release again"


@dataclass(frozen=True)
class RunHook(Effect):
    """A `[hooks]` command, run once: its success is a ledger event a re-run finds."""

    kind: ClassVar[str] = "run_hook"
    records: ClassVar[tuple[EventKind, ...]] = (
        EventKind.HOOK_SUCCEEDED,
        EventKind.HOOK_FAILED,
    )
    hook: str  # "after_promote" | "after_rollback"
    tag: str
    command: str
    env: tuple[tuple[str, str], ...]
    timeout: float

    @property
    def key(self) -> str:
        return f"{self.tag}/{self.hook}"

    def describe(self) -> str:
        return f"run the {self.hook} hook `{self.command}` for {self.tag}"


@dataclass(frozen=True)
class RetractRelease(Effect):
    kind: ClassVar[str] = "retract_release"
    tag: str
    note: str

    def describe(self) -> str:
        return f"mark the release {self.tag} retracted on the forge"


@dataclass(frozen=True)
class DeleteRelease(Effect):
    kind: ClassVar[str] = "delete_release"
    tag: str

    def describe(self) -> str:
        return f"delete the release {self.tag} from the forge"


@dataclass(frozen=True)
class ResolveImage(Effect):
    """`rc`: resolve the image's RC tag on its registry and record the manifest digest."""

    kind: ClassVar[str] = "resolve_image"
    records: ClassVar[tuple[EventKind, ...]] = (EventKind.IMAGE_RESOLVED,)
    image: str  # the configured repository, "ghcr.io/acme/app"
    tag: str  # the image tag to resolve ("v1.4.0-rc.2" in the image's spelling)
    release: str  # the RC's git tag: the event is keyed "<release>/<image>"
    insecure: bool = False
    # rollback: an earlier final made before rcflow recorded images, so `latest` can go back
    previous_final: bool = False

    def describe(self) -> str:
        return f"record the digest of {self.image}:{self.tag}" + (
            f" (resolved on the registry: no digest of {self.release} is recorded)"
            if self.previous_final
            else ""
        )


@dataclass(frozen=True)
class PromoteImage(Effect):
    """`promote`: put the recorded manifest under the final tag (and `latest`), then verify."""

    kind: ClassVar[str] = "promote_image"
    records: ClassVar[tuple[EventKind, ...]] = (EventKind.IMAGE_PROMOTED,)
    image: str
    digest: str  # recorded at rc: what was validated
    tags: tuple[str, ...]  # the final tag first, then the movable ones
    movable: tuple[str, ...]  # tags that exist to be moved ("latest")
    release: str  # the final's git tag
    source: str  # the RC's git tag
    insecure: bool = False

    def describe(self) -> str:
        return (
            f"tag {self.image}@{self.digest[:19]}… (from {self.source}) as "
            f"{', '.join(self.tags)}, no rebuild, and verify"
        )


@dataclass(frozen=True)
class MoveImageTag(Effect):
    """`rollback` of a release: point a movable tag (`latest`) back at an earlier digest."""

    kind: ClassVar[str] = "move_image_tag"
    records: ClassVar[tuple[EventKind, ...]] = (EventKind.IMAGE_TAG_MOVED,)
    image: str
    tag: str
    digest: str
    release: str  # the retracted final's git tag
    to: str  # the git tag whose digest the tag goes back to
    insecure: bool = False

    def describe(self) -> str:
        digest = f"{self.digest[:19]}…" if self.digest else "the digest just recorded"
        return f"move {self.image}:{self.tag} back to {self.to} ({digest})"


@dataclass(frozen=True)
class PublishPackages(Effect):
    """Publish the dists among `source`'s assets to the index: missing files only, verified."""

    kind: ClassVar[str] = "publish_packages"
    records: ClassVar[tuple[EventKind, ...]] = (EventKind.PACKAGE_PUBLISHED,)
    release: str  # the git tag being released (the event's key)
    source: str  # the tag whose release assets hold the dists (the RC's)
    version: str  # the PEP 440 version the dists must carry
    index: PythonPackageConfig

    def describe(self) -> str:
        from urllib.parse import urlsplit

        host = urlsplit(self.index.upload_url).netloc
        names = ", ".join(self.index.files)
        how = " through trusted publishing" if self.index.trusted_publishing else ""
        return f"publish the {self.version} dists ({names}) of {self.source} to {host}{how}"


@dataclass(frozen=True)
class ValidationSpec:
    """One validation to run on an RC: its `[[validate]]` entry as configured, and what the ledger
    adds for this RC (a dispatch to wait for, where the entry is committed).

    The entry is carried whole, not copied field by field; its fields read through (`name`,
    `run`, `kind`, ...), so the validators see one shape.
    """

    validation: ValidationConfig
    # A dispatch the ledger holds for this sha without a result: wait for that run (by id, or
    # by its correlation id when the run was not known yet), never dispatch a second one.
    run_id: int | None = None
    correlation: str | None = None
    dispatched_at: float | None = None  # when it was dispatched (the timeout counts from it)
    config: str | None = None  # where this entry is committed: "rcflow.toml at abc1234"

    @property
    def name(self) -> str:
        return self.validation.name

    @property
    def run(self) -> str:
        return self.validation.run

    @property
    def timeout(self) -> float:
        return self.validation.timeout

    @property
    def required(self) -> bool:
        return self.validation.required

    @property
    def kind(self) -> str:
        return self.validation.kind

    @property
    def workflow(self) -> str | None:
        return self.validation.workflow

    @property
    def inputs(self) -> tuple[tuple[str, str], ...]:
        return self.validation.inputs

    @property
    def checks(self) -> tuple[str, ...]:
        return self.validation.checks

    @property
    def statuses(self) -> tuple[str, ...]:
        return self.validation.statuses

    def to_json(self) -> dict[str, Any]:
        """The plan's view: the entry's fields and the ledger's, side by side (one object)."""
        entry = asdict(self.validation)
        entry.pop("max_age", None)  # a promotion rule, not part of what runs
        return {
            **entry,
            "run_id": self.run_id,
            "correlation": self.correlation,
            "dispatched_at": self.dispatched_at,
            "config": self.config,
        }

    def evidence(self) -> dict[str, Any]:
        """What ran, for every ledger event about it: another clone shows the same."""
        facts: dict[str, Any]
        if self.kind == "workflow":
            shown = ", ".join(f"{k}={v}" for k, v in self.inputs)
            ran = f"{self.workflow}" + (f" ({shown})" if shown else "")
            facts = {"workflow": self.workflow, "inputs": dict(self.inputs)}
        elif self.kind == "checks":
            ran = ", ".join((*self.checks, *self.statuses))
            facts = {"required_checks": list(self.checks), "required_statuses": list(self.statuses)}
        elif self.kind == "deployment":
            ran = f"deployment to {self.validation.deployment}"
            facts = {"environment": self.validation.deployment}
        else:
            ran, facts = self.run, {"command": self.run}
        return {"ran": ran, **facts, **({"config": self.config} if self.config else {})}

    def describe(self) -> str:
        if self.kind == "workflow":
            if self.run_id is not None or self.correlation is not None:
                which = f"run {self.run_id}" if self.run_id is not None else "the run"
                return f"wait for {self.name} ({self.workflow}, {which} dispatched before)"
            return f"dispatch {self.name} ({self.workflow}) and wait for it"
        if self.kind == "checks":
            names = ", ".join((*self.checks, *self.statuses))
            return f"wait for {self.name} ({names}) to pass"
        if self.kind == "deployment":
            return f"wait for {self.name} (a successful deployment to {self.validation.deployment})"
        return f"run {self.name}"


@dataclass(frozen=True)
class RunValidations(Effect):
    kind: ClassVar[str] = "run_validations"
    records: ClassVar[tuple[EventKind, ...]] = (
        EventKind.VALIDATION_DISPATCHING,
        EventKind.VALIDATION_DISPATCHED,
        EventKind.VALIDATION_NOT_DISPATCHED,
        EventKind.VALIDATION_PASSED,
        EventKind.VALIDATION_FAILED,
        EventKind.VALIDATE_COMPLETED,
    )
    tag: str
    sha: str
    version: str  # the RC version, semver spelling (RCFLOW_VERSION for the commands)
    validations: tuple[ValidationSpec, ...]
    jobs: int | None = None  # commands run at a time (`validate_jobs`, `--jobs`); None: all

    def longest_wait(self) -> float:
        """The most the validations can take: commands `jobs` at a time, the rest side by side
        (list scheduling never takes more than the sum over the slots plus the longest one)."""
        if not self.validations:
            return 0.0
        commands = [v.timeout for v in self.validations if v.kind == "command"]
        longest = max(v.timeout for v in self.validations)
        if not commands or self.jobs is None or self.jobs >= len(commands):
            return longest
        return max(longest, sum(commands) / self.jobs + max(commands))

    def describe(self) -> str:
        if not self.validations:
            return f"record that {self.tag} was signed off (no validations are configured)"
        commands = [v.name for v in self.validations if v.kind == "command"]
        others = [v.describe() for v in self.validations if v.kind != "command"]
        where = f"on {self.tag} ({self.sha[:7]})"
        bounded = self.jobs is not None and self.jobs < len(commands)
        clean = "in a clean worktree" + (f" ({self.jobs} at a time)" if bounded else "")
        if not others:
            return f"run {', '.join(commands)} {where} {clean}"
        parts = ([f"run {', '.join(commands)} {clean}"] if commands else []) + others
        return f"validate {self.tag} ({self.sha[:7]}): " + "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            **super().to_json(),
            "validations": [v.to_json() for v in self.validations],
        }


@dataclass(frozen=True)
class RecordEvent(Effect):
    kind: ClassVar[str] = "record_event"
    event: str
    key: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return f"record {self.event} {self.key} in the ledger"

    def writes(self) -> tuple[str, ...]:
        return (self.event,)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "description": self.describe(),
            "event": self.event,
            "key": self.key,
            "data": dict(self.data),
            "records": list(self.writes()),
        }

    def reach(self) -> Reach:
        return "ledger"


# -- alerts: what a failing run tells people, and what closes it (handlers: engine.alerts) ------


@dataclass(frozen=True)
class SendAlert(Effect):
    """POST the failing run's context to the webhook that `[notify] webhook_env` names.

    The effect names the variable, never the URL: the URL carries credentials, and plans are shown.
    """

    kind: ClassVar[str] = "send_alert"
    webhook_env: str
    message: str
    blockers: tuple[str, ...] = ()
    state: str | None = None
    resume: str | None = None
    run_url: str | None = None

    def lines(self) -> list[str]:
        """The alert as text: what failed, why, the state, how to resume, where it ran."""
        lines = [f"rcflow failed: {self.message}", *(f"• {b}" for b in self.blockers)]
        if self.state:
            lines.append(f"state: {self.state}")
        if self.resume:
            lines.append(f"resume with: {self.resume}")
        if self.run_url:
            lines.append(self.run_url)
        return lines

    def payload(self) -> dict[str, Any]:
        """Slack-compatible `text`, and the same facts as fields under `rcflow`."""
        return {
            "text": "\n".join(self.lines()),
            "rcflow": {
                "error": self.message,
                "blockers": list(self.blockers),
                "state": self.state,
                "resume": self.resume,
                "run_url": self.run_url,
            },
        }

    def describe(self) -> str:
        return f"post the failure to the webhook in ${self.webhook_env}"


@dataclass(frozen=True)
class OpenAlertIssue(Effect):
    """Open the release line's alert issue, or comment on it when it is open already."""

    kind: ClassVar[str] = "open_alert_issue"
    title: str
    body: str
    name: str = "the alert issue"  # what a note calls it (doctor's: the pipeline alert issue)

    def describe(self) -> str:
        return f"open or update the issue {self.title!r}"


@dataclass(frozen=True)
class CloseAlertIssue(Effect):
    """Close the release line's alert issue with a comment, if one is open."""

    kind: ClassVar[str] = "close_alert_issue"
    title: str
    comment: str
    name: str = "the alert issue"

    def describe(self) -> str:
        return f"close the issue {self.title!r} if it is open"
