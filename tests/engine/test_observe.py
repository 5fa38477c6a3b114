"""observe: facts only, and no local ref, file or ledger entry written — even when the remote
has objects this clone lacks (someone else's RC, the ledger written by another machine)."""

from __future__ import annotations

from rcflow.engine.observe import observe
from rcflow.steps.bump import BumpArgs
from rcflow.steps.rc import RcArgs
from tests.support.project import Project, git


def test_observe_reads_remote_only_facts_without_writing_refs(project: Project) -> None:
    project.step("bump", BumpArgs("auto"))
    project.step("rc", RcArgs())
    laptop = project.base / "laptop"
    git(project.base, "clone", "--quiet", str(project.origin), str(laptop))
    before = git(laptop, "for-each-ref", "--format=%(refname) %(objectname)")

    ctx = Project(project.base)
    ctx.root = laptop
    snap = observe(ctx.ctx().git, ctx.ctx().config, ctx.ctx().forge)

    assert git(laptop, "for-each-ref", "--format=%(refname) %(objectname)") == before
    assert "v1.4.0-rc.1" in snap.remote_tags
    assert [e.kind for e in snap.ledger if not e.kind.startswith("lease")] == [
        "bumped",
        "rc_tagged",
    ]
    assert snap.ledger_tip is not None and snap.local_ledger_tip is None


def test_status_on_a_fresh_clone_matches_the_maintainers(project: Project) -> None:
    project.step("bump", BumpArgs("auto"))
    project.step("rc", RcArgs())
    laptop = project.base / "laptop"
    git(project.base, "clone", "--quiet", str(project.origin), str(laptop))
    other = Project(project.base)
    other.root = laptop

    mine, theirs = project.status(), other.status()

    for key in ("state", "version", "target", "rc", "tag", "sha", "next"):
        assert mine[key] == theirs[key], key
    assert theirs["state"] == "candidate"


def test_drift_between_local_and_remote_is_reported(project: Project) -> None:
    project.git("tag", "-a", "v1.4.0-rc.1", "-m", "local only")
    git(project.origin, "tag", "v1.3.1", project.git("rev-parse", "HEAD~1"))

    status = project.status()

    assert status["in_sync"] is False
    assert "tag v1.4.0-rc.1 exists here but not on origin" in status["problems"]


def test_unreachable_remote_is_reported_not_fatal(project: Project) -> None:
    project.git("remote", "set-url", "origin", str(project.base / "gone.git"))
    status = project.status()
    assert status["remote_reachable"] is False
    assert status["state"] == "idle"
