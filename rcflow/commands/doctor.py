"""`rcflow doctor`: every preflight finding, read-only, and the scheduled pipeline alert issue."""

from __future__ import annotations

from pathlib import Path

from rcflow.commands.context import Context, UnnamedGitHub, preflight_facts
from rcflow.engine.observe import observe
from rcflow.errors import RcflowError, UsageError
from rcflow.model.config import Config
from rcflow.model.findings import Finding
from rcflow.model.states import Release, classify
from rcflow.preflight import DOCTOR
from rcflow.preflight import run as run_checks


def doctor(ctx: Context) -> list[Finding]:
    """Every preflight finding, read-only: git, version consistency, stale references, workflows."""
    snap = observe(ctx.git, ctx.config, ctx.forge, read_commits=False)
    release = classify(snap, ctx.config)
    found, _ = run_checks(DOCTOR, preflight_facts(ctx, snap, release))
    if isinstance(ctx.forge, UnnamedGitHub):
        found.append(ctx.forge.finding())  # the GitHub checks above could not run
    found = _doctor_waivers(ctx.config, found)
    found += init_drift(ctx.root)
    found += unfinished_findings(release)
    return sorted(found, key=lambda f: (f.severity != "error", f.where or "", f.id))


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
        from dataclasses import replace  # only a waived finding is copied: doctor pays no more

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


# `commands.init.GENERATED_MARKER`: init's first line in every file it writes.
_GENERATED = "written by `rcflow init`"


def init_drift(root: Path) -> list[Finding]:
    """Workflows an earlier `rcflow init` wrote that no longer match what it would write now
    (a `[[validate]]` changed, another rcflow version): `rcflow init` updates them."""
    # Only a workflow init wrote can drift: without one, neither init's repository scan nor
    # its templates are needed (or imported).
    if not _init_wrote_workflows(root):
        return []
    from rcflow.commands.init import InitOptions, config_source, detect, plan_init

    if config_source(root) is None:
        return []
    try:
        # The configuration exists: the workflows need none of the facts a new one is
        # written from (init's walk for version files is most of its time on a large tree).
        files = plan_init(root, InitOptions(), found=detect(root, workflows_only=True))
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


def check_doctor_alert(ctx: Context) -> None:
    """`doctor --alert` keeps the alert issue only where `[notify] issue` says so, on GitHub."""
    if not ctx.config.notify_issue:
        raise UsageError(
            f"doctor --alert: [notify] issue is not on in {ctx.config.source}; set "
            "`[notify] issue = true` to keep the pipeline alert issue"
        )
    if ctx.forge.name != "github":
        raise UsageError("doctor --alert: the alert issue needs the github forge (forge = github)")


def _init_wrote_workflows(root: Path) -> bool:
    """Whether a workflow file here starts with init's marker (`commands.init._file`'s `ours`)."""
    directory = root / ".github" / "workflows"
    if not directory.is_dir():
        return False
    for path in directory.iterdir():
        try:
            with path.open("rb") as fh:
                first = fh.readline().decode("utf-8", errors="replace")
        except OSError:  # a directory, a dangling link: nothing init wrote
            continue
        if _GENERATED in first:
            return True
    return False
