"""Apply: the executor. The only code path that changes anything.

Before each effect it checks whether the effect already holds (skip), or whether the world
contradicts it (conflict: stop, change nothing more); after each effect succeeds it may append a
ledger event. A mutating run holds the lease for its whole apply.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcflow.adapters.git import Git
from rcflow.engine import registries as artifacts
from rcflow.engine import release_assets as assets
from rcflow.engine.validations import check_runs as checks_validators
from rcflow.engine.validations import command as command_validators
from rcflow.engine.validations import workflow as workflow_validators
from rcflow.engine.validations.poll import Stoppable, Stopped
from rcflow.errors import ConflictError, EffectError, LeaseHeldError
from rcflow.model import ledger
from rcflow.model.effects import (
    BuildAssets,
    CarryAssets,
    Commit,
    CreateRelease,
    CreateTag,
    DeleteRelease,
    DeleteTag,
    Effect,
    MarkLatest,
    MoveImageTag,
    PromoteImage,
    PublishPackages,
    PublishRelease,
    PushBranch,
    PushTag,
    RecordEvent,
    ResetBranch,
    ResolveImage,
    RetractRelease,
    RevertCommit,
    RunHook,
    RunValidations,
    UploadAssets,
    ValidationSpec,
    VerifyVersionOnlyDiff,
    WriteFile,
    WriteVersionFiles,
)
from rcflow.model.ledger import LEDGER_REF, Event, RunIdentity
from rcflow.model.snapshot import Snapshot
from rcflow.ports import proc
from rcflow.ports.ci import CI
from rcflow.ports.forge import Forge

if TYPE_CHECKING:
    from rcflow.adapters.oci import Registry


class LedgerWriter:
    """Appends events with compare-and-swap on the remote ledger ref."""

    def __init__(
        self, git: Git, remote: str, tip: str | None, events: tuple[Event, ...], me: RunIdentity
    ):
        self.git = git
        self.remote = remote
        self.tip = tip
        self.events = list(events)
        self.me = me

    def latest_kind(self, key: str) -> str | None:
        """The kind of the newest event about key: what was last decided or done about it."""
        for event in reversed(self.events):
            if event.key == key:
                return event.kind
        return None

    def append(self, kind: str, key: str, data: Mapping[str, Any]) -> Event:
        stamped = dict(data)
        head = self.git.head()
        stamped.setdefault("head", head[0] if head else None)
        if self.me.url:
            stamped.setdefault("run_url", self.me.url)
        event = Event(kind, key, ledger.now_iso(time.time()), self.me.actor, self.me.run, stamped)
        # A signal waits for the push and the tip to agree: else the lease release that follows
        # an interrupt builds on a stale tip and is rejected, leaving the lease held.
        with proc.deferred():
            sha = self.git.commit_tree(event.message(), self.tip)
            # A non-fast-forward rejection means someone appended since we looked: the CAS.
            self.git.push(self.remote, [f"{sha}:{LEDGER_REF}"])
            # Pushed, the event is on the ledger: the next append builds on it even if updating
            # the local copy of the ref fails (else releasing the lease after that is rejected).
            self.tip = sha
            stored = Event(
                event.kind, event.key, event.time, event.actor, event.run, event.data, sha
            )
            self.events.append(stored)
            self.git.update_ref(LEDGER_REF, sha)
        return stored


Report = Callable[[Effect, str], None]  # (effect, "done" | "skipped: why")


@dataclass
class Ports:
    git: Git
    forge: Forge
    validation_progress: command_validators.Progress = field(default=lambda n, w, d: None)
    # Registries and package indexes (None: the real ones, credentials from the environment).
    registry: artifacts.RegistryFactory | None = None
    index: artifacts.IndexFactory | None = None
    # Where workflow and checks validations run: GitHub. None: the forge, when it is one.
    ci: CI | None = None
    # The alert webhook `[notify] webhook_env` names (None: not set); engine.alerts posts to it.
    webhook: Callable[[Mapping[str, Any]], None] | None = None


@dataclass
class Applied:
    effect: Effect
    outcome: str  # "done" or "skipped: <why>"
    results: list[command_validators.Outcome] = field(default_factory=list)


def acquire_lease(
    writer: LedgerWriter,
    snapshot: Snapshot,
    *,
    command: str,
    ttl: float,
    break_lease: bool,
) -> str | None:
    """Take the release lease, or raise LeaseHeldError naming the holder. Returns a note."""
    me = writer.me
    held = ledger.current_lease(snapshot.ledger)
    note = None
    if held is not None:
        live = ledger.lease_is_live(
            held, now=snapshot.now, me=me, pid_alive=ledger.pid_alive(held.pid)
        )
        if live and not break_lease:
            until = ledger.now_iso(held.expires)
            raise LeaseHeldError(
                f"{held.describe()} holds the release lease until {until}",
                hint=f"wait for it to finish, or if it is dead: rcflow {command} --break-lease",
            )
        if live or snapshot.now < held.expires:
            writer.append("lease_broken", held.run, {"by": me.run})
            note = f"broke the lease of {held.describe()}"
        else:
            note = f"took over the expired lease of {held.describe()}"
    writer.append(
        "lease_acquired",
        me.run,
        {"host": me.host, "pid": me.pid, "expires": snapshot.now + ttl, "command": command},
    )
    return note


def release_lease(writer: LedgerWriter) -> None:
    writer.append("lease_released", writer.me.run, {})


class Executor:
    def __init__(self, ports: Ports, writer: LedgerWriter | None, report: Report) -> None:
        self.git = ports.git
        self.forge = ports.forge
        self.ports = ports
        self._writer = writer
        self.report = report
        self.results: list[command_validators.Outcome] = []
        self._registries: dict[tuple[str, bool], Registry] = {}

    @property
    def writer(self) -> LedgerWriter:
        """The ledger; plans without release effects (`rcflow init`) run without one."""
        if self._writer is None:
            raise EffectError("this plan has no ledger to record events in")
        return self._writer

    def apply(self, effects: tuple[Effect, ...]) -> list[Applied]:
        applied = []
        for effect in effects:
            outcome = self.perform(effect)
            self.report(effect, outcome)
            applied.append(Applied(effect, outcome))
        return applied

    def perform(self, effect: Effect) -> str:
        handler = getattr(self, f"_do_{effect.kind}")
        result: str = handler(effect)
        return result

    # -- files and commits -----------------------------------------------------------------

    def _do_write_version_files(self, e: WriteVersionFiles) -> str:
        expected = dict(e.expected)
        pending: dict[str, str] = {}
        for path, new in e.contents:
            current = _read(self.git.root / path)
            if current == new:
                continue
            if current != expected.get(path):
                raise ConflictError(f"{path} changed since the plan was made; re-run to re-plan")
            pending[path] = new
        if not pending:
            return "skipped: the files already hold it"
        self.git.write_files(pending)
        return "done"

    def _do_write_file(self, e: WriteFile) -> str:
        current = _read(self.git.root / e.path)
        if current == e.content:
            return "skipped: already there"
        if current is not None and not e.overwrite:
            raise ConflictError(f"{e.path} exists with other content", hint="rerun with --force")
        (self.git.root / e.path).parent.mkdir(parents=True, exist_ok=True)
        self.git.write_files({e.path: e.content})
        return "done"

    def _do_commit(self, e: Commit) -> str:
        head = self.git.head()
        sha = head[0] if head else ""
        if sha != e.parent:
            if head and head[1] == (e.parent,) and head[2] == e.message.splitlines()[0]:
                return f"skipped: already committed as {sha[:7]}"
            raise ConflictError(
                f"HEAD moved to {sha[:7]} since the plan was made; re-run to re-plan"
            )
        try:
            new = self.git.commit(e.paths, e.message)
        except EffectError:
            # The tree goes back to what it was: the resumed run writes the files again.
            self.git.restore_paths(e.paths)
            raise
        return f"done: {new[:7]}"

    def _do_verify_version_only_diff(self, e: VerifyVersionOnlyDiff) -> str:
        allowed: dict[str, list[tuple[str, str]]] = {}
        for path, old, new in e.allowed:
            allowed.setdefault(path, []).append((old, new))
        for path, removed, added in self.git.changed_lines(e.rc_sha, "HEAD"):
            swaps = allowed.get(path, [])
            if not any(removed.replace(old, new) == added and removed for old, new in swaps):
                shown = (removed or added).strip()[:80]
                raise ConflictError(
                    f"the final commit differs from {e.rc_tag} beyond version strings "
                    f"({path or 'a binary file'}: {shown!r}): nothing was tagged",
                    hint="cut a new RC with `rcflow rc`",
                )
        return "done: only version strings differ"

    def _do_revert_commit(self, e: RevertCommit) -> str:
        head = self.git.head()
        if head and head[2] == e.message.splitlines()[0]:
            return f"skipped: already reverted in {head[0][:7]}"
        # Built aside, then one branch move: a crash never leaves a half-done revert behind.
        new = self.git.revert_commit(e.sha, e.message)
        dirty = self.git.status().dirty
        if dirty and self.git.texts_at(new, dirty) == {p: _read(self.git.root / p) for p in dirty}:
            # What an older rcflow's `git revert --no-commit` left when it was killed: the work
            # tree already holds exactly the revert. Commit it by moving the branch under it.
            self.git.reset_mixed(new)
            return f"done: {new[:7]} (finished the revert left in the work tree)"
        self.git.reset_keep(new)
        return f"done: {new[:7]}"

    def _do_reset_branch(self, e: ResetBranch) -> str:
        head = self.git.head()
        target = self.git.resolve(e.to)
        if head and head[0] == target:
            return "skipped: already reset"
        if not head or head[0] != e.drop:
            raise ConflictError(f"HEAD is no longer {e.drop[:7]}; re-run to re-plan")
        self.git.reset_keep(e.to)
        return "done"

    # -- tags and pushes -------------------------------------------------------------------

    def _local_tag(self, name: str) -> str | None:
        refs = self.git.refs(f"refs/tags/{name}")
        return refs[0].commit if refs else None

    def _do_create_tag(self, e: CreateTag) -> str:
        target = e.target or (self.git.head() or ("",))[0]
        existing = self._local_tag(e.name)
        if existing == target:
            return "skipped: the tag exists at that commit"
        if existing is not None:
            raise ConflictError(f"tag {e.name} already exists at {existing[:7]}, not {target[:7]}")
        remote = self.git.remote_ref(self.writer.remote, f"refs/tags/{e.name}")
        if remote is not None and remote != target:
            raise ConflictError(
                f"tag {e.name} exists on {self.writer.remote} at {remote[:7]}, not {target[:7]}"
            )
        self.git.create_tag(e.name, target, e.message)
        return "done"

    def _do_push_tag(self, e: PushTag) -> str:
        local = self._local_tag(e.name)
        remote = self.git.remote_ref(e.remote, f"refs/tags/{e.name}")
        if remote is not None and (local is None or remote == local):
            return "skipped: the remote has it"
        if remote is not None:
            raise ConflictError(
                f"tag {e.name} is at {remote[:7]} on {e.remote}, not {(local or '')[:7]}"
            )
        if local is None:
            raise EffectError(f"tag {e.name} does not exist here; re-run to re-plan")
        self._push(e.remote, f"refs/tags/{e.name}:refs/tags/{e.name}", f"tag {e.name}")
        return "done"

    def _do_push_branch(self, e: PushBranch) -> str:
        head = (self.git.head() or ("",))[0]
        remote = self.git.remote_ref(e.remote, f"refs/heads/{e.branch}")
        if remote == head:
            return "skipped: the remote has it"
        self._push(e.remote, f"HEAD:refs/heads/{e.branch}", f"branch {e.branch}")
        return "done"

    def _do_delete_tag(self, e: DeleteTag) -> str:
        if e.remote is None:
            if self._local_tag(e.name) is None:
                return "skipped: already gone"
            self.git.delete_tag(e.name)
            return "done"
        if self.git.remote_ref(e.remote, f"refs/tags/{e.name}") is None:
            return "skipped: already gone"
        self._push(e.remote, f":refs/tags/{e.name}", f"the deletion of tag {e.name}")
        return "done"

    def _push(self, remote: str, refspec: str, what: str) -> None:
        try:
            self.git.push(remote, [refspec])
        except ConflictError:
            raise
        except EffectError as exc:
            # Refused (a hook, a protected ref) or unreachable: the ledger has the decision,
            # the remote not the write; the resume command finishes it once the remote takes it.
            if exc.hint is None:
                exc.hint = f"{what} did not reach {remote}: once {remote} accepts it, resume"
            raise

    # -- forge -----------------------------------------------------------------------------

    def _do_create_release(self, e: CreateRelease) -> str:
        existing = self.forge.releases().get(e.tag)
        if existing is not None:
            if existing.prerelease != e.prerelease and not existing.retracted:
                what = "prerelease" if existing.prerelease else "release"
                raise ConflictError(
                    f"the forge already has {e.tag} as a {what}: nothing was changed"
                )
            return "skipped: the release exists" + (" (a draft)" if existing.draft else "")
        self.forge.create_release(e.tag, e.title, e.notes, prerelease=e.prerelease, draft=e.draft)
        return "done"

    def _do_build_assets(self, e: BuildAssets) -> str:
        if assets.complete_on_forge(self.forge.releases().get(e.tag)):
            return "skipped: the release has its assets"
        stage = assets.stage_dir(self.git.git_dir, e.tag)
        sums = assets.staged(stage)
        if sums is not None:
            outcome = "skipped: already built (staged in the git dir)"
        else:
            sha = e.sha or (self.git.head() or ("",))[0]
            env = {"RCFLOW_VERSION": e.version, "RCFLOW_TAG": e.tag, "RCFLOW_PEP440": e.pep440}
            sums = assets.build(
                self.git,
                tag=e.tag,
                sha=sha,
                command=e.command,
                patterns=e.files,
                env=env,
                timeout=e.timeout,
            )
            outcome = f"done: {len(sums)} file(s)"
        if self.forge.name == "local":
            # Before the RC is tagged: assets git cannot carry refuse the RC, not half of it.
            warnings = assets.git_size_policy(stage, sums, e.tag)
            outcome += "".join(f"; warning: {w}" for w in warnings)
        return outcome

    def _do_upload_assets(self, e: UploadAssets) -> str:
        releases = self.forge.releases()
        if assets.complete_on_forge(releases.get(e.tag)):
            return "skipped: the release has its assets"
        stage = assets.stage_dir(self.git.git_dir, e.tag)
        sums = assets.staged(stage)
        if sums is None:
            raise EffectError(
                f"the assets of {e.tag} are not staged here (built on another machine?)",
                hint="re-run `rcflow rc` to build them again",
            )
        uploaded = assets.upload_missing(self.forge, releases, e.tag, stage, sums)
        return f"done: {len(uploaded)} uploaded" if uploaded else "skipped: all present"

    def _do_carry_assets(self, e: CarryAssets) -> str:
        import tempfile

        releases = self.forge.releases()
        target = releases.get(e.tag)
        if target is not None and not target.draft:
            return "skipped: the release is published"
        with tempfile.TemporaryDirectory(prefix="rcflow-carry-") as scratch:
            carried = assets.carry(self.forge, releases, e.source, e.tag, Path(scratch))
        return f"done: {len(carried)} carried" if carried else "skipped: nothing to carry"

    def _do_publish_release(self, e: PublishRelease) -> str:
        rel = self.forge.releases().get(e.tag)
        if rel is None:
            raise EffectError(f"the forge has no release {e.tag} to publish; re-run to finish it")
        if not rel.draft and (rel.latest or not e.latest):
            return "skipped: already published"
        self.forge.publish_release(e.tag, latest=e.latest)
        return "done"

    def _do_mark_latest(self, e: MarkLatest) -> str:
        rel = self.forge.releases().get(e.tag)
        if rel is None:
            return "skipped: the forge has no such release"
        if rel.latest:
            return "skipped: already the latest"
        self.forge.set_latest(e.tag)
        return "done"

    def _do_run_hook(self, e: RunHook) -> str:
        if ledger.has(tuple(self.writer.events), "hook_succeeded", e.key):
            return "skipped: it already succeeded"
        log = self.git.git_dir / "rcflow" / "logs" / e.tag / f"{e.hook}.log"
        ok, detail = command_validators.run_once(
            e.command, cwd=self.git.root, env=dict(e.env), log=log, timeout=e.timeout
        )
        if not ok:
            self.writer.append("hook_failed", e.key, {"detail": detail, "log": str(log)})
            raise EffectError(
                f"the {e.hook} hook failed ({detail}); its output is in {log}",
                hint=None,
            )
        self.writer.append("hook_succeeded", e.key, {"detail": detail, "log": str(log)})
        return "done"

    def _do_retract_release(self, e: RetractRelease) -> str:
        rel = self.forge.releases().get(e.tag)
        if rel is None or rel.retracted:
            return "skipped: nothing to mark"
        self.forge.retract_release(e.tag, e.note)
        return "done"

    def _do_delete_release(self, e: DeleteRelease) -> str:
        if e.tag not in self.forge.releases():
            return "skipped: already gone"
        self.forge.delete_release(e.tag)
        return "done"

    # -- images and packages ---------------------------------------------------------------

    def _registry(self, image: str, insecure: bool) -> tuple[Registry, str]:
        """The client for an image's registry (one per host, so tokens are reused) and its repo."""
        host, repository = artifacts.split_image(image)
        key = (host, insecure)
        if key not in self._registries:
            factory = self.ports.registry or artifacts.open_registry
            self._registries[key] = factory(host, insecure)
        return self._registries[key], repository

    def _do_resolve_image(self, e: ResolveImage) -> str:
        key = artifacts.image_key(e.release, e.image)
        digest = artifacts.recorded_digest(self.writer.events, artifacts.IMAGE_RESOLVED, key)
        if digest is not None:
            return f"skipped: already recorded ({digest[:19]}…)"
        registry, repository = self._registry(e.image, e.insecure)
        manifest = registry.resolve(repository, e.tag)
        if manifest is None and e.previous_final:
            raise EffectError(
                f"{e.image}:{e.tag} does not exist, so latest cannot go back to {e.release}",
                hint=f"push {e.image}:{e.tag} (the image of {e.release}), then re-run",
            )
        if manifest is None:
            raise EffectError(
                f"{e.image}:{e.tag} does not exist: push the RC's image before `rcflow rc`",
                hint=f"build and push {e.image}:{e.tag}, then re-run rcflow rc",
            )
        data = {
            "image": e.image,
            "tag": e.tag,
            "digest": manifest.digest,
            "media_type": manifest.media_type,
            "index": manifest.is_index,
        }
        self.writer.append(artifacts.IMAGE_RESOLVED, key, data)
        return f"done: {manifest.digest[:19]}…"

    def _do_promote_image(self, e: PromoteImage) -> str:
        from rcflow.adapters.oci import promote_image

        key = artifacts.image_key(e.release, e.image)
        if artifacts.recorded_digest(self.writer.events, artifacts.IMAGE_PROMOTED, key) == e.digest:
            return "skipped: already promoted and verified"
        registry, repository = self._registry(e.image, e.insecure)
        # Checks every tag before the first PUT (a conflict changes nothing), puts the manifest
        # fetched by digest, then verifies that every tag resolves to the digest.
        outcomes = promote_image(registry, repository, e.digest, e.tags, movable=e.movable)
        data = {
            "image": e.image,
            "tags": list(e.tags),
            "digest": e.digest,
            "rc": e.source,
            "outcomes": {o.target.rsplit(":", 1)[-1]: o.action for o in outcomes},
        }
        self.writer.append(artifacts.IMAGE_PROMOTED, key, data)
        done = [o.target.rsplit(":", 1)[-1] for o in outcomes if o.action != "skipped"]
        if not done:
            return "skipped: every tag was already at the digest (verified)"
        return f"done: {', '.join(done)} at {e.digest[:19]}… (verified)"

    def _do_move_image_tag(self, e: MoveImageTag) -> str:
        from rcflow.adapters.oci import promote_image

        key = artifacts.image_key(e.release, e.image)
        events = tuple(self.writer.events)
        previous = artifacts.image_key(e.to, e.image)
        # No digest in the plan: the previous final's, as its ResolveImage just recorded it.
        digest = (
            e.digest
            or artifacts.recorded_digest(events, artifacts.IMAGE_PROMOTED, previous)
            or artifacts.recorded_digest(events, artifacts.IMAGE_RESOLVED, previous)
        )
        if not digest:
            raise EffectError(
                f"no digest of {e.image} is recorded for {e.to}; re-run to resolve it"
            )
        e = dataclasses.replace(e, digest=digest)
        if artifacts.recorded_digest(events, artifacts.IMAGE_TAG_MOVED, key) == e.digest:
            return "skipped: already moved back"
        registry, repository = self._registry(e.image, e.insecure)
        outcomes = promote_image(registry, repository, e.digest, (e.tag,), movable=(e.tag,))
        data = {"image": e.image, "tag": e.tag, "digest": e.digest, "to": e.to}
        self.writer.append(artifacts.IMAGE_TAG_MOVED, key, data)
        if all(o.action == "skipped" for o in outcomes):
            return f"skipped: {e.tag} was already at {e.to}'s digest"
        return "done"

    def _do_publish_packages(self, e: PublishPackages) -> str:
        import tempfile

        from rcflow.adapters.pyindex import publish

        key = artifacts.package_key(e.release, e.index)
        if ledger.has(tuple(self.writer.events), artifacts.PACKAGE_PUBLISHED, key):
            return "skipped: already published"
        index = (self.ports.index or artifacts.open_index)(e.index)
        with tempfile.TemporaryDirectory(prefix="rcflow-dists-") as scratch:
            paths = artifacts.dist_files(
                self.git.git_dir, self.forge, e.source, e.index.files, e.version, Path(scratch)
            )
            if not paths:
                raise EffectError(
                    f"{e.source} has no dists of version {e.version} matching "
                    f"{', '.join(e.index.files)}: nothing was published",
                    hint="check [python_package] files and what [assets] builds",
                )
            # Asks the index first: skips files there with the same sha256, refuses files there
            # with other bytes before uploading anything, uploads the rest, verifies them all.
            outcomes = publish(index, paths)
        data = {
            "index": e.index.upload_url,
            "rc": e.source,
            "version": e.version,
            "files": {o.target: o.sha256 for o in outcomes},
            "uploaded": [o.target for o in outcomes if o.action == "uploaded"],
        }
        self.writer.append(artifacts.PACKAGE_PUBLISHED, key, data)
        uploaded = len(data["uploaded"])
        if not uploaded:
            return f"skipped: all {len(outcomes)} file(s) were on the index (verified)"
        return f"done: {uploaded} of {len(outcomes)} file(s) uploaded (verified)"

    # -- validations and the ledger --------------------------------------------------------

    def _ci(self) -> CI:
        ci = self.ports.ci if self.ports.ci is not None else self.forge
        if not isinstance(ci, CI):
            raise EffectError(
                f"workflow and checks validations run on GitHub, not on the {self.forge.name} "
                "forge: nothing was validated",
                hint='set forge = "github" (and github_repository) in the configuration',
            )
        return ci

    def _do_run_validations(self, e: RunValidations) -> str:
        commands = tuple(v for v in e.validations if v.kind == "command")
        remote = [v for v in e.validations if v.kind != "command"]
        ci = Stoppable(self._ci()) if remote else None
        lock = threading.Lock()
        done: dict[str, command_validators.Outcome] = {}
        errors: list[BaseException] = []
        specs = {v.name: v for v in e.validations}

        def append(kind: str, name: str, data: Mapping[str, Any]) -> None:
            # Every event names what ran (command, workflow and inputs, check names).
            evidence = specs[name].evidence() if name in specs else {}
            with lock:
                if ci is not None and ci.stop.is_set():
                    raise Stopped
                self.writer.append(kind, f"{e.tag}/{name}", {"sha": e.sha, **data, **evidence})

        def record(o: command_validators.Outcome) -> None:
            # Each result is bound to the sha it ran on; a GitHub one as soon as it is known.
            kind = "validation_passed" if o.passed else "validation_failed"
            append(kind, o.name, _result(o))
            done[o.name] = o

        def on_github(spec: ValidationSpec) -> None:
            assert ci is not None  # noqa: S101 - set whenever there is a remote validation
            try:
                if spec.kind == "workflow":
                    o = workflow_validators.run(
                        ci,
                        spec,
                        tag=e.tag,
                        sha=e.sha,
                        record=lambda kind, data: append(kind, spec.name, data),
                        progress=self.ports.validation_progress,
                    )
                else:
                    o = checks_validators.run(
                        ci, spec, sha=e.sha, progress=self.ports.validation_progress
                    )
                record(o)
            except Stopped:
                pass
            except BaseException as exc:  # reported by the main thread, after the others
                errors.append(exc)

        # Waiting on GitHub runs beside the commands; the threads are daemons, so an interrupt
        # ends the run at once (what was dispatched is in the ledger: a re-run re-attaches).
        threads = [
            threading.Thread(
                target=on_github, args=(spec,), name=f"rcflow:{spec.name}", daemon=True
            )
            for spec in remote
        ]
        try:
            for t in threads:
                t.start()
            outcomes = command_validators.run_all(
                self.git,
                commands,
                tag=e.tag,
                sha=e.sha,
                version=e.version,
                progress=self.ports.validation_progress,
            )
            for o in outcomes:
                record(o)
            for t in threads:
                while t.is_alive():  # in slices: a signal must reach the main thread (proc)
                    t.join(proc.SIGNAL_POLL)
        except BaseException:
            if ci is not None:
                # Under the lock: an append under way ends first, none starts after (the lease
                # release that follows an interrupt must not race a validation's event).
                with lock:
                    ci.stop.set()
            raise
        ordered = [done[v.name] for v in e.validations if v.name in done]
        self.results.extend(ordered)
        if errors:
            # Not a verdict on the RC (a token, a network): nothing more is recorded, and a
            # re-run waits for what was dispatched.
            raise errors[0]
        failed = [o.name for o in ordered if not o.passed and o.required]
        self.writer.append(
            "validate_completed",
            e.tag,
            {"sha": e.sha, "passed": not failed, "ran": [o.name for o in ordered]},
        )
        return f"failed: {', '.join(failed)}" if failed else "done"

    def _do_record_event(self, e: RecordEvent) -> str:
        # A crash between an effect and its event leaves the event missing; a crash after the
        # append but before the run noticed leaves it present: only the newest event counts, and
        # only if it says the same (a second bump to a version records its own commit and origin).
        latest = next((x for x in reversed(self.writer.events) if x.key == e.key), None)
        if (
            latest is not None
            and latest.kind == e.event
            and all(latest.data.get(k) == v for k, v in e.data.items())
        ):
            return "skipped: already recorded"
        self.writer.append(e.event, e.key, e.data)
        return "done"

    # -- alerts: plain functions in engine.alerts, (effect, port) -> outcome ------------------

    def _do_send_alert(self, e: Effect) -> str:
        from rcflow.engine import alerts

        return alerts.perform(e, self.ports)

    _do_open_alert_issue = _do_send_alert
    _do_close_alert_issue = _do_send_alert


def _read(path: Path) -> str | None:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def _result(o: command_validators.Outcome) -> dict[str, Any]:
    """A validation result's ledger data: the same keys whatever ran it (plus its own facts)."""
    conclusion = o.conclusion or (
        "success" if o.passed else "timed_out" if o.detail.startswith("timed out") else "failure"
    )
    return {
        **o.facts,
        "kind": o.kind,
        "duration": o.duration,
        "detail": o.detail,
        "log": o.log,
        "required": o.required,
        "conclusion": conclusion,
        "url": o.url,
    }
