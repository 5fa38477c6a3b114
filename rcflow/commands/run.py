"""Commands as plain functions: observe → plan → (confirm) → lease → apply, and the read-only views.

The CLI parses arguments and renders; everything a command does happens here, through the
same path for every step, so dry-run is one switch: stop after planning.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal, Protocol, cast

from rcflow.adapters.git import Git, TreeStore
from rcflow.adapters.github import github_repo
from rcflow.adapters.local_forge import FORGE_REF, LocalForge
from rcflow.commands.context import (
    Context,
    UnnamedGitHub,
    events,
    load_context,
    load_doctor_context,
    status,
)
from rcflow.commands.init import InitOptions, detect, next_steps, plan_init
from rcflow.engine.executor import (
    Applied,
    Executor,
    LedgerWriter,
    Ports,
    acquire_lease,
    release_lease,
)
from rcflow.engine.observe import observe
from rcflow.engine.validations.command import Outcome
from rcflow.errors import BlockedError, ConflictError, LeaseHeldError, RcflowError, UsageError
from rcflow.model.config import WORKFLOW_INPUTS, Config
from rcflow.model.effects import (
    BuildAssets,
    DeleteRelease,
    DeleteTag,
    Effect,
    PushTag,
    RecordEvent,
    RunHook,
    RunValidations,
    WriteFile,
)
from rcflow.model.findings import Finding
from rcflow.model.ledger import current_lease, lease_is_live, pid_alive
from rcflow.model.plan import Plan
from rcflow.model.snapshot import Snapshot
from rcflow.model.states import Release, classify
from rcflow.model.version import parse, tag_name
from rcflow.preflight import forge as forge_checks
from rcflow.preflight import git as git_checks
from rcflow.preflight import github as github_checks
from rcflow.preflight import registries as artifact_checks
from rcflow.preflight import stale_refs
from rcflow.preflight import versions as version_checks
from rcflow.preflight import workflows as workflow_checks
from rcflow.steps import bump, promote, rc, rollback, validate

__all__ = [
    "Context",
    "Hooks",
    "StepResult",
    "events",
    "load_context",
    "load_doctor_context",
    "run_step",
    "status",
]

PLANNERS: dict[str, Callable[[Snapshot, Config, Any], Plan]] = {
    "bump": bump.plan,
    "rc": rc.plan,
    "validate": validate.plan,
    "promote": promote.plan,
    "rollback": rollback.plan,
}


class Hooks(Protocol):
    """What a running command asks of its user interface."""

    def confirm(self, plan: Plan) -> bool: ...

    def effect(self, effect: Effect, outcome: str) -> None: ...

    def validation(self, name: str, what: str, detail: str) -> None: ...

    def note(self, text: str) -> None: ...


@dataclass
class StepResult:
    step: str
    status: Literal["done", "applied", "planned", "declined", "failed"]
    plan: Plan
    release: Release
    snapshot: Snapshot
    applied: list[Applied] = field(default_factory=list)
    results: list[Outcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _plan(ctx: Context, step: str, args: Any) -> tuple[Snapshot, Plan]:
    snap = observe(ctx.git, ctx.config, ctx.forge)
    if snap.forge_error is not None:
        # Planned without the forge's facts, a step would redo releases that exist.
        raise BlockedError(
            f"{step} refused: the {snap.forge} forge cannot be read: nothing was changed",
            blockers=(snap.forge_error,),
        )
    return snap, PLANNERS[step](snap, ctx.config, args)


def _refuse(plan: Plan) -> None:
    if plan.blockers:
        raise BlockedError(f"{plan.step} refused: nothing was changed", blockers=plan.blockers)


def _check_reviewed(plan: Plan, plan_file: Path) -> None:
    try:
        reviewed = json.loads(plan_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: not JSON, or not UTF-8 text
        raise UsageError(f"--plan-file {plan_file}: cannot read a plan: {exc}") from exc
    if not isinstance(reviewed, dict):
        raise UsageError(
            f"--plan-file {plan_file}: not a plan (a JSON {type(reviewed).__name__}); "
            "write one with --dry-run --plan-file"
        )
    if reviewed.get("step") != plan.step:
        raise UsageError(
            f"--plan-file {plan_file}: a plan for {reviewed.get('step')}, not {plan.step}"
        )
    if reviewed.get("fingerprint") != plan.fingerprint:
        raise ConflictError(
            f"the repository changed since the plan in {plan_file} was made: nothing was applied",
            untouched=True,
            hint=f"review a new plan: rcflow {plan.step} --dry-run --plan-file {plan_file}",
        )


def run_step(
    ctx: Context,
    step: str,
    args: Any,
    *,
    dry_run: bool,
    hooks: Hooks,
    break_lease: bool = False,
    plan_file: Path | None = None,
    skip: Sequence[str] = (),
    resume: str | None = None,
) -> StepResult:
    snap, plan = _plan(ctx, step, args)
    if plan_file is not None and not dry_run:
        _check_reviewed(plan, plan_file)
    plan = _needs_identity(snap, plan)
    if not dry_run:
        _refuse(plan)
    release = classify(snap, ctx.config)
    plan, blocking = preflight(ctx, step, release, plan, skip)
    if dry_run and (plan.blockers or blocking):
        # A dry run shows the whole plan and every reason it would be refused (exit 3).
        blockers = (*plan.blockers, *(f"{f.id}: {f.line()}" for f in blocking))
        return StepResult(step, "planned", replace(plan, blockers=blockers), release, snap)
    if blocking:
        raise BlockedError(
            f"{step} refused by preflight: nothing was changed",
            blockers=tuple(f"{f.id}: {f.line()}" for f in blocking),
            hint="`rcflow doctor` lists every finding; --skip-check ID (or ID@FILE) waives one "
            "for this run, [preflight] waive in the config for good",
        )
    if plan.empty:
        return StepResult(step, "done", plan, release, snap)
    if dry_run:
        if plan_file is not None:
            try:
                plan_file.write_text(plan.dumps() + "\n", encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"--plan-file {plan_file}: cannot write the plan: {exc}") from exc
        return StepResult(step, "planned", plan, release, snap)
    if not hooks.confirm(plan):
        return StepResult(step, "declined", plan, release, snap)

    writer, note = _lease(ctx, step, args, snap, plan, break_lease)
    if note:
        hooks.note(note)
    ports = Ports(ctx.git, ctx.forge, hooks.validation, ctx.registry, ctx.index)
    executor = Executor(ports, writer, hooks.effect)
    try:
        # A failed validation is in the ledger already (validation_failed); an effect that
        # raised is not, so it is recorded as a failed attempt with how to resume it.
        applied = executor.apply(plan.effects)
    except BaseException as exc:
        reason = exc.message if isinstance(exc, RcflowError) else type(exc).__name__
        record_failure(writer, step, plan, reason, resume)
        raise
    finally:
        try:
            release_lease(writer)
        except RcflowError as exc:
            hooks.note(f"could not release the lease ({exc.message}); it expires by itself")
    after = observe(ctx.git, ctx.config, ctx.forge, with_commits=False)
    failed = any(a.outcome.startswith("failed") for a in applied)
    return StepResult(
        step,
        "failed" if failed else "applied",
        plan,
        classify(after, ctx.config),
        after,
        applied,
        executor.results,
    )


def lease_ttl(config: Config, plan: Plan) -> float:
    """How long this run's lease lasts: lease_ttl, plus the time its waits may take.

    A validation may wait 30 minutes on a workflow run and a build or hook has its own timeout;
    a lease shorter than that would let another host take over a run that is still working.
    """
    waits = 0.0
    for effect in plan.effects:
        if isinstance(effect, RunValidations) and effect.validations:
            waits += max(v.timeout for v in effect.validations)  # they run side by side
        elif isinstance(effect, BuildAssets | RunHook):
            waits += effect.timeout
    return config.lease_ttl + waits


def _lease(
    ctx: Context, step: str, args: Any, snap: Snapshot, plan: Plan, break_lease: bool
) -> tuple[LedgerWriter, str | None]:
    """Take the lease; when another run appended meanwhile, look again before deciding."""
    shown = [e.describe() for e in plan.effects]
    for _ in range(3):
        writer = LedgerWriter(ctx.git, ctx.config.remote, snap.ledger_tip, snap.ledger, ctx.me)
        try:
            note = acquire_lease(
                writer, snap, command=step, ttl=lease_ttl(ctx.config, plan), break_lease=break_lease
            )
            return writer, note
        except LeaseHeldError:
            raise
        except ConflictError:
            snap = observe(ctx.git, ctx.config, ctx.forge)
            held = current_lease(snap.ledger)
            if held and lease_is_live(held, now=snap.now, me=ctx.me, pid_alive=pid_alive(held.pid)):
                raise LeaseHeldError(
                    f"{held.describe()} took the release lease first",
                    hint=f"wait for it to finish, then re-run rcflow {step}",
                ) from None
            again = PLANNERS[step](snap, ctx.config, args)
            if [e.describe() for e in again.effects] != shown:
                raise ConflictError(
                    "the release changed while this run was starting: nothing was applied",
                    untouched=True,
                    hint=f"re-run rcflow {step} to see the new plan",
                ) from None
        except BaseException:
            # A failure after the lease was pushed (updating the local ref) must not leave it held.
            if writer.latest_kind(ctx.me.run) == "lease_acquired":
                with contextlib.suppress(RcflowError):
                    release_lease(writer)
            raise
    raise ConflictError("the ledger kept changing; try again", hint=f"rcflow {step}")


@dataclass
class InitResult:
    status: Literal["done", "applied", "planned", "declined"]
    plan: Plan
    applied: list[Applied]
    next_steps: list[str]


def init_facts(path: Path) -> dict[str, Any]:
    """What `init` detects, for the questions it asks on a terminal."""
    root, _ = Git.discover(path)
    return detect(root)


def run_init(
    path: Path, options: InitOptions, *, force: bool, dry_run: bool, hooks: Hooks
) -> InitResult:
    """Write rcflow.toml and the release workflows; an existing different file needs --force."""
    root, git_dir = Git.discover(path)
    files = plan_init(root, options)
    # A file an earlier init wrote is updated (the config changed); any other is the project's.
    clashes = [f.path for f in files if f.exists and not f.same and not f.ours and not force]
    updates = [f"updates {f.path}: " + " | ".join(f.diff) for f in files if f.exists and not f.same]
    plan = Plan(
        "init",
        "-",
        "",
        effects=tuple(WriteFile(f.path, f.content, f.exists) for f in files if not f.same),
        blockers=tuple(f"{p} exists with other content (--force replaces it)" for p in clashes),
        notes=tuple(updates),
        done="rcflow.toml and the workflows are already in place",
    )
    _refuse(plan)
    steps = next_steps(detect(root), options)
    if plan.empty:
        return InitResult("done", plan, [], steps)
    if dry_run:
        return InitResult("planned", plan, [], steps)
    if not hooks.confirm(plan):
        return InitResult("declined", plan, [], steps)
    git = Git(root, git_dir)
    forge = LocalForge(TreeStore(git, "origin", FORGE_REF))  # init touches no forge
    executor = Executor(Ports(git, forge), None, hooks.effect)
    return InitResult("applied", plan, executor.apply(plan.effects), steps)


def doctor(ctx: Context) -> list[Finding]:
    """Every preflight finding, read-only: git, version consistency, stale references, workflows."""
    snap = observe(ctx.git, ctx.config, ctx.forge)
    release = classify(snap, ctx.config)
    found = git_checks.findings(snap, head_pushed=False)
    found += repository_findings(ctx, release, versions=True)
    if ctx.forge.name == "github":
        found += github_checks.dispatch_findings(snap.ledger)
    if isinstance(ctx.forge, UnnamedGitHub):
        found.append(ctx.forge.finding())  # the GitHub checks above could not run
    found = _doctor_waivers(ctx.config, found)
    found += init_drift(ctx.root)
    found += unfinished_findings(release)
    return sorted(found, key=lambda f: (f.severity != "error", f.where or "", f.id))


def repository_findings(
    ctx: Context, release: Release, *, versions: bool, plan: Plan | None = None
) -> list[Finding]:
    """The checks beyond git's state: versions, the forge, release workflows, stale references.

    With a plan, the forge checks judge exactly the tags it creates and deletes; without one
    (`doctor`), the tags the next release would make.
    """
    found = version_checks.findings(release, ctx.config) if versions else []
    url = ctx.git.config_value(f"remote.{ctx.config.remote}.url") or ""
    current = github_repo(url)
    previous = list(ctx.config.previous_names)
    if ctx.forge.name == "github":
        create, delete = _tags_touched(plan) if plan else _next_tags(ctx.config, release)
        facts = cast(github_checks.Facts, ctx.forge)
        forge_found, canonical = github_checks.findings(
            facts, origin=current, create_tags=create, delete_tags=delete, everything=plan is None
        )
        found += forge_found
        if canonical is not None:
            # What GitHub's redirect reveals: the names this repository had before.
            for name in (current, facts.repository):
                if name and name.lower() != canonical.lower() and name not in previous:
                    previous.append(name)
            current = canonical
    rc1, final = _next_tags(ctx.config, release)[0]
    found += workflow_checks.findings(
        ctx.root,
        tag_prefix=ctx.config.tag_prefix,
        rc_token=ctx.config.rc_token,
        owner=current.split("/")[0] if current else None,
        actionlint=workflow_checks.find_actionlint(ctx.root),
        tags_pushed=(final, rc1),
        dispatched=[v.workflow for v in ctx.config.validations if v.workflow],
    )
    dispatched = [
        (v.name, v.workflow, tuple(k for k, _ in v.inputs))
        for v in ctx.config.validations
        if v.workflow
    ]
    if dispatched:
        found += workflow_checks.dispatch_findings(ctx.root, dispatched, WORKFLOW_INPUTS)
    if previous:
        if current is None:
            found.append(
                Finding(
                    "stale-ref.unknown-name",
                    "warning",
                    f"{ctx.config.remote} is not a github.com URL: this repository's current "
                    "name is unknown, so stale references were not searched",
                    f"point {ctx.config.remote} at github.com/OWNER/REPO",
                )
            )
        else:
            found += stale_refs.findings(
                ctx.root,
                current,
                tuple(previous),
                allow=ctx.config.allow_references,
            )
    return found


def _tags_touched(plan: Plan) -> tuple[list[str], list[str]]:
    """Tags the plan pushes, and tags it deletes while their release stays (a retraction)."""
    create = [e.name for e in plan.effects if isinstance(e, PushTag)]
    released = {e.tag for e in plan.effects if isinstance(e, DeleteRelease)}
    delete = [
        e.name
        for e in plan.effects
        if isinstance(e, DeleteTag) and e.remote is not None and e.name not in released
    ]
    return create, delete


def _next_tags(config: Config, release: Release) -> tuple[list[str], list[str]]:
    """The tags the next release would create: its first RC and its final."""
    base = release.target or (
        release.last_final.bump("minor") if release.last_final else parse("0.1.0")
    )
    render = partial(tag_name, tag_prefix=config.tag_prefix, rc_token=config.rc_token)
    return [render(base.with_rc(1)), render(base)], []


# Which steps run the repository checks before their first effect (git's are in every plan);
# the version files must agree before an RC is cut and before it is promoted.
PREFLIGHT = {"bump": False, "rc": True, "promote": True, "rollback": False}


def preflight(
    ctx: Context, step: str, release: Release, plan: Plan, skip: Sequence[str]
) -> tuple[Plan, list[Finding]]:
    """The plan with its waivers recorded, and the error findings that refuse this step.

    An error that cannot break this step (`Finding.steps`) is a note on the plan, not a blocker;
    one waived by `--skip-check` or by `[preflight] waive` in the config goes ahead and the
    waiver is recorded in the ledger with the run.
    """
    if step not in PREFLIGHT or plan.empty:
        return plan, []
    found = repository_findings(ctx, release, versions=PREFLIGHT[step], plan=plan)
    # The registries and the index the plan would touch, tried before the first effect.
    found += artifact_checks.findings(
        plan.effects, git_dir=ctx.git_dir, forge=ctx.forge, registry=ctx.registry, index=ctx.index
    )
    blocking: list[Finding] = []
    notes: list[str] = []
    waivers: list[RecordEvent] = []
    for f in found:
        if f.severity != "error":
            continue
        if not f.breaks(step):
            where = f" in {f.file}" if f.file else ""
            notes.append(f"not blocking {step}: {f.id}{where} cannot break it (see rcflow doctor)")
            continue
        by_flag, by_config = f.waived_by(skip), f.waived_by(ctx.config.preflight_waive)
        if by_flag is None and by_config is None:
            blocking.append(f)
            continue
        waivers.append(
            RecordEvent(
                "check_waived",
                f"{f.id}@{f.where or '-'}",
                {
                    "step": step,
                    "message": f.message,
                    "version": plan.subject.get("version"),
                    "by": f"--skip-check {by_flag}"
                    if by_flag
                    else f"{ctx.config.source} [preflight] waive {by_config}",
                },
            )
        )
    # What the final release will carry, proven on the forge; never waived (see checks.forge).
    blocking += forge_checks.findings(plan.effects, ctx.forge)
    if not waivers and not notes:
        return plan, blocking
    return replace(plan, effects=(*waivers, *plan.effects), notes=(*plan.notes, *notes)), blocking


def record_failure(
    writer: LedgerWriter, step: str, plan: Plan, reason: str, resume: str | None
) -> None:
    """A failed attempt goes in the ledger (step, reason, how to resume); best effort, since the
    failure may be the remote itself. Refusals are not recorded: they change nothing (README)."""
    subject = plan.subject.get("tag") or plan.subject.get("version") or "-"
    data = {"step": step, "reason": reason, "resume": resume, "subject": subject}
    with contextlib.suppress(Exception):
        writer.append("step_failed", f"{step}/{subject}", data)


def _doctor_waivers(config: Config, found: list[Finding]) -> list[Finding]:
    """Findings the config waives become warnings saying so; each waiver is listed."""
    out: list[Finding] = []
    used: dict[str, int] = dict.fromkeys(config.preflight_waive, 0)
    for f in found:
        waiver = f.waived_by(config.preflight_waive) if f.severity == "error" else None
        if waiver is None:
            out.append(f)
            continue
        used[waiver] += 1
        out.append(replace(f, severity="warning", message=f"waived ({waiver}): {f.message}"))
    for waiver, count in used.items():
        covers = f"covers {count} finding(s)" if count else "covers no finding now"
        out.append(
            Finding(
                "preflight.waiver",
                "warning",
                f"{config.source} [preflight] waive {waiver!r} {covers}",
                "remove the waiver once what it waives is fixed",
            )
        )
    return out


def init_drift(root: Path) -> list[Finding]:
    """Workflows an earlier `rcflow init` wrote that no longer match what it would write now
    (a `[[validate]]` changed, another rcflow version): `rcflow init` updates them."""
    if init_facts(root).get("config") is None:
        return []
    try:
        files = plan_init(root, InitOptions())
    except RcflowError:
        return []  # an invalid config or template is reported elsewhere
    return [
        Finding(
            "init.drift",
            "warning",
            f"{f.path} differs from what `rcflow init` generates from the config: "
            + " | ".join(f.diff),
            "run `rcflow init` to update it (it rewrites only files it wrote)",
            where=f.path,
        )
        for f in files
        if f.ours and not f.same
    ]


def _needs_identity(snap: Snapshot, plan: Plan) -> Plan:
    """Every step that changes something appends to the ledger (its lease, at least): a commit.

    Without a git identity that append fails after the lease was pushed; refuse first, like the
    steps whose own checks ask for it (bump, rc).
    """
    if plan.empty or snap.identity or any(b.startswith(_NO_IDENTITY) for b in plan.blockers):
        return plan
    line = f"{_NO_IDENTITY} to record the ledger's events with"
    fix = 'git config user.name "…" && git config user.email "…"'
    return replace(plan, blockers=(*plan.blockers, f"{line} ({fix})"))


_NO_IDENTITY = "git has no identity"


def unfinished_findings(release: Release) -> list[Finding]:
    """Half-done steps the state names (each problem that says which command completes it)."""
    found = []
    for problem in release.problems:
        at = problem.find("`rcflow ")
        if at > 0:
            what, fix = problem[:at].rstrip(" :;,"), f"run {problem[at:]}"
            found.append(Finding("state.unfinished", "warning", what, fix))
    return found


# -- the pipeline alert issue of the scheduled doctor (issue 16) --------------------------------

DOCTOR_ALERT_TITLE = "rcflow: the release pipeline needs attention"


def check_doctor_alert(ctx: Context) -> None:
    """`doctor --alert` keeps the alert issue only where `[notify] issue` says so, on GitHub."""
    if not ctx.config.notify_issue:
        raise UsageError(
            f"doctor --alert: [notify] issue is not on in {ctx.config.source}; set "
            "`[notify] issue = true` to keep the pipeline alert issue"
        )
    if ctx.forge.name != "github":
        raise UsageError("doctor --alert: the alert issue needs the github forge (forge = github)")


def doctor_alert(ctx: Context, found: Sequence[Finding], run_url: str | None) -> str:
    """Open or comment on the one alert issue while doctor finds an error; close it when clean.

    Returns what was done, for a note. Raises the forge's error when GitHub refuses.
    """
    forge = cast(Any, ctx.forge)
    errors = [f for f in found if f.severity == "error"]
    if errors:
        lines = [f"`rcflow doctor` found {len(errors)} error(s) that would break a release:", ""]
        for f in errors:
            where = f" ({f.where})" if f.where else ""
            lines.append(f"- **{f.id}**{where}: {f.message}. Fix: {f.fix}")
        if run_url:
            lines += ["", f"Run: {run_url}"]
        lines += ["", "This issue is closed by the next `rcflow doctor` run that finds no error."]
        url = forge.report_issue(DOCTOR_ALERT_TITLE, "\n".join(lines))
        return f"the pipeline alert issue lists {len(errors)} error(s): {url}"
    comment = "`rcflow doctor` finds no error any more" + (f": {run_url}" if run_url else ".")
    closed = forge.resolve_issue(DOCTOR_ALERT_TITLE, comment)
    if closed is None:
        return "no error and no open pipeline alert issue: nothing to do"
    return f"closed the pipeline alert issue: {closed}"
