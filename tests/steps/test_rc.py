"""rc: tag the bumped commit vX.Y.Z-rc.N, push it, publish the prerelease; once; N never reused."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

from rcflow.commands import run as commands
from rcflow.errors import ConflictError, RcflowError
from rcflow.steps.rc import RcArgs
from tests.support.crash import Attempt, count_writes, crash_each_write
from tests.support.ledger import events, held_lease
from tests.support.project import Hooks, Project, assert_refused, git

MakeProject = Callable[..., Project]

RC_IN_FILES = "rc_in_files = true\n"


def bumped(p: Project, request: str = "auto") -> str:
    result = p.cli("bump", request)
    assert result.exit_code == 0, result.stderr
    return p.head()


def add_commit(p: Project, message: str, *, push: bool = True) -> str:
    path = p.root / "work.txt"
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    p.write("work.txt", existing + message + "\n")
    sha = p.commit(message)
    if push:
        p.push()
    return sha


def origin_head(p: Project) -> str:
    return git(p.origin, "rev-parse", "main")


def origin_log(p: Project) -> list[str]:
    return git(p.origin, "log", "--format=%s", "main").splitlines()


def tag_message(p: Project, tag: str, *, where: str = "local") -> str:
    cwd = p.root if where == "local" else p.origin
    return git(cwd, "for-each-ref", "--format=%(contents)", f"refs/tags/{tag}")


def tag_type(p: Project, tag: str) -> str:
    return git(p.origin, "cat-file", "-t", f"refs/tags/{tag}")


def forge_release(p: Project, tag: str) -> dict[str, Any] | None:
    return p.forge_release(tag)


def forge_tags(p: Project) -> list[str]:
    return p.forge_tags()


def rc_tags(tags: dict[str, str]) -> dict[str, str]:
    return {name: sha for name, sha in tags.items() if "-rc." in name}


# -- happy path ----------------------------------------------------------------------------------


def test_rc_tags_pushes_publishes_and_records(project: Project) -> None:
    feat = project.head()
    bump = bumped(project)
    result = project.cli("rc")
    assert result.exit_code == 0, result.stderr

    assert project.head() == bump  # rc makes no commit by default
    assert rc_tags(project.local_tags()) == {"v1.4.0-rc.1": bump}
    assert rc_tags(project.remote_tags()) == {"v1.4.0-rc.1": bump}
    assert tag_type(project, "v1.4.0-rc.1") == "tag"  # annotated
    message = (
        "Release candidate 1.4.0-rc.1\n\n"
        f"{bump[:7]} chore(release): bump version to 1.4.0\n"
        f"{feat[:7]} feat: add a feature"
    )
    assert tag_message(project, "v1.4.0-rc.1") == message
    assert tag_message(project, "v1.4.0-rc.1", where="origin") == message
    assert (
        git(
            project.origin,
            "for-each-ref",
            "--format=%(taggername) %(taggeremail)",
            "refs/tags/v1.4.0-rc.1",
        )
        == "Test Maintainer <maintainer@example.invalid>"
    )

    assert forge_tags(project) == ["v1.4.0-rc.1"]
    assert forge_release(project, "v1.4.0-rc.1") == {
        "tag": "v1.4.0-rc.1",
        "title": "1.4.0-rc.1",
        "prerelease": True,
        "draft": False,
        "retracted": False,
        "assets": [],
        # Grouped by conventional-commit type; the chore (the bump itself) is left out.
        "notes": (
            "Release candidate **v1.4.0-rc.1** of 1.4.0: not for production until it is "
            f"promoted.\n\n### Added\n\n- add a feature ({feat[:7]})\n"
        ),
    }
    assert project.forge_latest() is None  # never latest

    assert project.kinds() == ["bumped", "rc_tagged"]
    (tagged,) = events(project, "rc_tagged")
    assert tagged["key"] == "v1.4.0-rc.1"
    assert tagged["data"] == {"sha": bump, "version": "1.4.0", "rc": 1, "head": bump}
    assert [e["kind"] for e in project.ledger()][-3:] == [
        "lease_acquired",
        "rc_tagged",
        "lease_released",
    ]
    assert held_lease(project.ledger()) is None

    status = project.status()
    assert (status["state"], status["tag"], status["rc"], status["sha"]) == (
        "candidate",
        "v1.4.0-rc.1",
        1,
        bump,
    )
    assert status["next"] == ["validate", "rc", "rollback"]
    assert project.git("status", "--porcelain") == ""


def test_rc_through_run_step_reports_each_effect(project: Project) -> None:
    bump = bumped(project)
    result = project.step("rc", RcArgs())
    assert result.status == "applied"
    assert [(a.effect.describe(), a.outcome) for a in result.applied] == [
        (f"create annotated tag v1.4.0-rc.1 on {bump[:7]}", "done"),
        ("push tag v1.4.0-rc.1 to origin", "done"),
        ("create the draft release v1.4.0-rc.1 on the forge", "done"),
        ("publish the release v1.4.0-rc.1", "done"),
        ("record rc_tagged v1.4.0-rc.1 in the ledger", "done"),
    ]
    assert result.release.state.value == "candidate"


def test_second_run_is_a_noop(project: Project) -> None:
    bump = bumped(project)
    assert project.cli("rc").exit_code == 0
    world, ledger = project.world(), project.ledger()
    again = project.cli("rc")
    assert again.exit_code == 0, again.stderr
    assert "Already done" in again.stdout
    assert f"v1.4.0-rc.1 already tags HEAD ({bump[:7]})" in again.stdout
    assert project.world() == world
    assert project.ledger() == ledger


def test_dry_run_changes_nothing(project: Project) -> None:
    bumped(project)
    world, ledger = project.world(), project.ledger()
    result = project.cli("rc", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "Dry run: nothing was changed." in result.stdout
    assert "v1.4.0-rc.1" in result.stdout
    assert project.world() == world
    assert project.ledger() == ledger


def test_a_new_commit_gets_the_next_rc(project: Project) -> None:
    bump = bumped(project)
    assert project.cli("rc").exit_code == 0
    fix = add_commit(project, "fix: found during rc.1")
    result = project.cli("rc")
    assert result.exit_code == 0, result.stderr
    assert rc_tags(project.remote_tags()) == {"v1.4.0-rc.1": bump, "v1.4.0-rc.2": fix}
    assert rc_tags(project.local_tags()) == {"v1.4.0-rc.1": bump, "v1.4.0-rc.2": fix}
    assert tag_message(project, "v1.4.0-rc.2").splitlines() == [
        "Release candidate 1.4.0-rc.2",
        "",
        f"{fix[:7]} fix: found during rc.1",
        f"{bump[:7]} chore(release): bump version to 1.4.0",
        f"{project.git('rev-parse', 'HEAD~2')[:7]} feat: add a feature",
    ]
    assert [e["key"] for e in events(project, "rc_tagged")] == ["v1.4.0-rc.1", "v1.4.0-rc.2"]
    assert events(project, "rc_tagged")[1]["data"] == {
        "sha": fix,
        "version": "1.4.0",
        "rc": 2,
        "head": fix,
    }
    assert forge_tags(project) == ["v1.4.0-rc.1", "v1.4.0-rc.2"]
    status = project.status()
    assert (status["state"], status["tag"], status["sha"]) == ("candidate", "v1.4.0-rc.2", fix)
    assert [c["tag"] for c in status["candidates"]] == ["v1.4.0-rc.1", "v1.4.0-rc.2"]

    world = project.world()
    again = project.cli("rc")
    assert again.exit_code == 0 and "Already done" in again.stdout
    assert project.world() == world


# -- refusals ------------------------------------------------------------------------------------


def test_refuses_without_a_bump(project: Project) -> None:
    assert project.status()["state"] == "idle"
    assert_refused(project, ("rc",), "no release in flight: run `rcflow bump` first")
    assert project.ledger() == []


def test_refuses_a_dirty_tree(project: Project) -> None:
    bumped(project)
    project.write("feature.py", "dirty\n")
    assert_refused(project, ("rc",), "uncommitted changes in feature.py")


def test_refuses_the_wrong_branch(project: Project) -> None:
    bumped(project)
    project.git("switch", "--quiet", "-c", "topic")
    assert_refused(project, ("rc",), "on topic, not the release branch main")


def test_refuses_a_head_not_pushed(project: Project) -> None:
    bumped(project)
    local = add_commit(project, "fix: not pushed yet", push=False)
    assert_refused(project, ("rc",), f"HEAD {local[:7]} is not on origin/main")
    assert rc_tags(project.remote_tags()) == {}


def test_refuses_when_origin_is_ahead(project: Project) -> None:
    bumped(project)
    other = project.base / "other"
    git(project.base, "clone", "--quiet", str(project.origin), str(other))
    (other / "theirs.txt").write_text("x\n", encoding="utf-8")
    git(other, "add", "theirs.txt")
    git(other, "commit", "--quiet", "-m", "fix: theirs")
    git(other, "push", "--quiet", "origin", "main")
    assert_refused(project, ("rc",), "origin/main has commits this clone lacks")


def test_refuses_a_foreign_rc_tag_at_another_commit(project: Project) -> None:
    """v1.4.0-rc.1 already on origin, by hand, at another commit: rc must not tag around it."""
    feat = project.head()
    bumped(project)
    git(project.origin, "tag", "-a", "v1.4.0-rc.1", "-m", "made by hand", feat)
    assert_refused(
        project,
        ("rc",),
        f"v1.4.0-rc.1 exists at {feat[:7]}, not at HEAD, and the ledger has no record of it",
        "rcflow rollback v1.4.0-rc.1",
    )
    assert rc_tags(project.remote_tags()) == {"v1.4.0-rc.1": feat}
    assert rc_tags(project.local_tags()) == {}
    assert forge_tags(project) == []
    # the way out it names: withdraw it, then rc.2 (never rc.1 again) tags HEAD
    assert project.cli("rollback", "v1.4.0-rc.1").exit_code == 0
    assert rc_tags(project.remote_tags()) == {}
    assert project.cli("rc").exit_code == 0
    assert rc_tags(project.remote_tags()) == {"v1.4.0-rc.2": project.head()}


def test_a_tag_pushed_by_someone_else_meanwhile_is_a_conflict(project: Project) -> None:
    """The tag appears on origin at another commit after rc planned: stop, tag nothing."""
    feat = project.head()
    bumped(project)
    ctx = project.ctx()
    original = ctx.git.update_ref
    calls: list[str] = []

    def update_ref(ref: str, new: str) -> None:
        if not calls:  # the lease was just pushed: now someone else pushes the same tag
            git(project.origin, "tag", "-a", "v1.4.0-rc.1", "-m", "theirs", feat)
        calls.append(ref)
        original(ref, new)

    ctx.git.update_ref = update_ref  # type: ignore[method-assign]
    with pytest.raises(ConflictError, match=r"tag v1\.4\.0-rc\.1 exists on origin at"):
        commands.run_step(ctx, "rc", RcArgs(), dry_run=False, hooks=Hooks())
    assert rc_tags(project.remote_tags()) == {"v1.4.0-rc.1": feat}
    assert rc_tags(project.local_tags()) == {}
    assert forge_tags(project) == []
    assert project.kinds() == ["bumped"]
    assert held_lease(project.ledger()) is None


def test_refuses_a_local_hand_made_rc_tag(project: Project) -> None:
    """A local tag of the same name at another commit (made by hand) is refused too."""
    feat = project.head()
    bumped(project)
    project.git("tag", "-a", "v1.4.0-rc.1", "-m", "mine, by hand", feat)
    world, ledger = project.world(), project.ledger()
    result = project.cli("rc")
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert f"v1.4.0-rc.1 exists at {feat[:7]}, not at HEAD" in result.stderr
    assert project.world() == world
    assert project.ledger() == ledger


# -- numbers are never reused --------------------------------------------------------------------


def test_a_withdrawn_number_is_not_reused(project: Project) -> None:
    bump = bumped(project)
    assert project.cli("rc").exit_code == 0
    back = project.cli("rollback")
    assert back.exit_code == 0, back.stderr
    assert rc_tags(project.remote_tags()) == {}
    assert rc_tags(project.local_tags()) == {}
    assert forge_tags(project) == []
    assert project.status()["state"] == "bumped"

    fix = add_commit(project, "fix: the reason rc.1 was withdrawn")
    result = project.cli("rc")
    assert result.exit_code == 0, result.stderr
    assert rc_tags(project.remote_tags()) == {"v1.4.0-rc.2": fix}
    assert forge_tags(project) == ["v1.4.0-rc.2"]
    assert [(e["kind"], e["key"]) for e in project.ledger() if e["kind"].startswith("rc_")] == [
        ("rc_tagged", "v1.4.0-rc.1"),
        ("rc_withdrawn", "v1.4.0-rc.1"),
        ("rc_tagged", "v1.4.0-rc.2"),
    ]
    assert events(project, "rc_withdrawn")[0]["data"]["sha"] == bump
    status = project.status()
    assert (status["state"], status["tag"], status["rc"]) == ("candidate", "v1.4.0-rc.2", 2)


def test_a_withdrawn_number_is_not_reused_on_the_same_commit(project: Project) -> None:
    bump = bumped(project)
    assert project.cli("rc").exit_code == 0
    assert project.cli("rollback", "v1.4.0-rc.1").exit_code == 0
    assert project.cli("rc").exit_code == 0
    assert rc_tags(project.remote_tags()) == {"v1.4.0-rc.2": bump}
    # and again: rc.2 withdrawn, the next is rc.3
    assert project.cli("rollback", "v1.4.0-rc.2").exit_code == 0
    assert project.cli("rc").exit_code == 0
    assert rc_tags(project.remote_tags()) == {"v1.4.0-rc.3": bump}
    assert rc_tags(project.local_tags()) == {"v1.4.0-rc.3": bump}


# -- rc_in_files ---------------------------------------------------------------------------------


def test_rc_in_files_writes_commits_pushes_and_tags_that_commit(make_project: MakeProject) -> None:
    p = make_project(config=RC_IN_FILES)
    bump = bumped(p)
    result = p.cli("rc")
    assert result.exit_code == 0, result.stderr

    head = p.head()
    assert head != bump
    assert p.git("rev-parse", "HEAD^") == bump
    assert p.read("pyproject.toml") == '[project]\nname = "demo"\nversion = "1.4.0rc1"\n'
    assert p.git("log", "-1", "--format=%s") == "chore(release): 1.4.0-rc.1"
    assert p.git("show", "--format=", "--name-only", "HEAD").splitlines() == ["pyproject.toml"]
    assert origin_head(p) == head
    assert rc_tags(p.remote_tags()) == {"v1.4.0-rc.1": head}
    assert rc_tags(p.local_tags()) == {"v1.4.0-rc.1": head}
    assert git(p.origin, "show", "v1.4.0-rc.1:pyproject.toml").endswith('version = "1.4.0rc1"')
    assert forge_tags(p) == ["v1.4.0-rc.1"]
    (tagged,) = events(p, "rc_tagged")
    assert (tagged["key"], tagged["data"]["rc"], tagged["data"]["version"]) == (
        "v1.4.0-rc.1",
        1,
        "1.4.0",
    )
    assert tagged["data"]["head"] == head
    status = p.status()
    assert (status["state"], status["tag"], status["sha"], status["problems"]) == (
        "candidate",
        "v1.4.0-rc.1",
        head,
        [],
    )

    world, ledger = p.world(), p.ledger()
    again = p.cli("rc")
    assert again.exit_code == 0 and "Already done" in again.stdout
    assert (p.world(), p.ledger()) == (world, ledger)

    fix = add_commit(p, "fix: during rc.1")
    second = p.cli("rc")
    assert second.exit_code == 0, second.stderr
    head2 = p.head()
    assert p.git("rev-parse", "HEAD^") == fix
    assert p.read("pyproject.toml") == '[project]\nname = "demo"\nversion = "1.4.0rc2"\n'
    assert p.git("log", "-1", "--format=%s") == "chore(release): 1.4.0-rc.2"
    assert origin_head(p) == head2
    assert rc_tags(p.remote_tags()) == {"v1.4.0-rc.1": head, "v1.4.0-rc.2": head2}
    assert [e["key"] for e in events(p, "rc_tagged")] == ["v1.4.0-rc.1", "v1.4.0-rc.2"]


def test_rc_in_files_refuses_a_dirty_tree(make_project: MakeProject) -> None:
    p = make_project(config=RC_IN_FILES)
    bumped(p)
    p.write("pyproject.toml", p.read("pyproject.toml") + "# my edit\n")
    assert_refused(p, ("rc",), "uncommitted changes in pyproject.toml")


# -- crash and resume ----------------------------------------------------------------------------


def crash_and_resume(make_project: MakeProject, **kw: Any) -> list[str]:
    """Fail each port write of `rc` in turn, re-run, compare with an uninterrupted run."""
    twin = make_project(**kw)
    bumped(twin)
    writes = count_writes(twin, "rc", RcArgs())
    twin_files = twin.read("pyproject.toml")
    twin_log = origin_log(twin)
    (twin_tagged,) = events(twin, "rc_tagged")
    twin_release = forge_release(twin, "v1.4.0-rc.1")
    assert twin_release is not None

    bumps: dict[str, str] = {}

    def start(name: str) -> Project:
        p = make_project(**kw)
        bumps[p.base.name] = bumped(p)
        return p

    def resume(crash: Attempt) -> None:
        p, where = crash.project, crash.where
        bump = bumps[p.base.name]
        resumed = p.step("rc", RcArgs())
        assert resumed.status in ("applied", "done"), where

        head = p.head()
        assert p.read("pyproject.toml") == twin_files, where
        assert origin_log(p) == twin_log, where
        assert origin_head(p) == head, where
        assert p.git("status", "--porcelain") == "", where
        if kw.get("config") != RC_IN_FILES:
            assert head == bump, where
        assert rc_tags(p.remote_tags()) == {"v1.4.0-rc.1": head}, where
        assert rc_tags(p.local_tags()) == {"v1.4.0-rc.1": head}, where
        assert tag_type(p, "v1.4.0-rc.1") == "tag", where
        release = forge_release(p, "v1.4.0-rc.1")
        assert release is not None, where
        assert (release["title"], release["prerelease"]) == ("1.4.0-rc.1", True), where
        ledger = p.ledger()
        assert [
            e["kind"] for e in ledger if not e["kind"].startswith(("lease_", "step_failed"))
        ] == [
            "bumped",
            "rc_tagged",
        ], where
        (tagged,) = (e for e in ledger if e["kind"] == "rc_tagged")
        assert tagged["key"] == "v1.4.0-rc.1", where
        assert (tagged["data"]["rc"], tagged["data"]["version"]) == (1, "1.4.0"), where
        assert tagged["data"]["head"] == head, where
        assert tagged["data"].get("sha", head) == head, where
        # The lease's release rides with the tag, the forge's release and `rc_tagged`: it is
        # never lost after the work landed, so no crash leaves the lease held.
        assert held_lease(ledger) is None, where
        again = p.step("rc", RcArgs())
        assert (again.status, again.snapshot.head) == ("done", head), where

    crashed = crash_each_write(
        start,
        "rc",
        RcArgs(),
        resume,
        writes=len(writes),
        tolerate=(RcflowError,),
        limit=40,
    )
    assert twin_tagged["key"] == "v1.4.0-rc.1"
    return crashed


def test_crash_after_every_write_then_resume(make_project: MakeProject) -> None:
    crashed = crash_and_resume(make_project)
    # lease (3 writes), the tag; the forge's draft and publication, held; the event's commit
    # and the lease's release; then one push carries the tag, the forge's commit and both
    # events, and the local copies of the ledger and the forge refs follow it
    assert crashed == [
        "commit_tree_files",
        "push",
        "update_ref",
        "create_tag",
        "create_release",
        "publish_release",
        "commit_tree_files",
        "commit_tree_files",
        "push",
        "update_ref",
        "update_ref",
    ]


def test_crash_after_every_write_then_resume_rc_in_files(make_project: MakeProject) -> None:
    crashed = crash_and_resume(make_project, config=RC_IN_FILES)
    assert crashed[3:7] == ["write_files", "commit", "push", "create_tag"]
    assert len(crashed) == 14  # the rc-in-files commit and its push, then as above


HARD_CRASH = textwrap.dedent(
    """
    import os, sys
    from rcflow.adapters import git as adapter

    original = adapter.Git.push

    def push(self, remote, refspecs):
        if any(spec.startswith("refs/tags/") for spec in refspecs):
            os._exit(9)  # the machine dies mid-push: no finally, no lease release
        return original(self, remote, refspecs)

    adapter.Git.push = push
    from rcflow.cli.app import main

    sys.exit(main(["rc", "--yes", "-C", sys.argv[1]]))
    """
)


def test_hard_crash_during_the_tag_push_then_resume(project: Project) -> None:
    bump = bumped(project)
    died = subprocess.run(
        [sys.executable, "-c", HARD_CRASH, str(project.root)],
        cwd=project.root,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ),
        check=False,
    )
    assert died.returncode == 9, died.stderr
    # it died after tagging here, before the tag reached origin, holding the lease
    assert rc_tags(project.local_tags()) == {"v1.4.0-rc.1": bump}
    assert rc_tags(project.remote_tags()) == {}
    dead_run = held_lease(project.ledger())
    assert dead_run is not None
    assert project.kinds() == ["bumped"]

    result = project.run("rc")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert rc_tags(project.remote_tags()) == {"v1.4.0-rc.1": bump}
    assert rc_tags(project.local_tags()) == {"v1.4.0-rc.1": bump}
    assert forge_tags(project) == ["v1.4.0-rc.1"]
    assert project.kinds() == ["bumped", "rc_tagged"]
    ledger = project.ledger()
    assert ("lease_broken", dead_run) in [(e["kind"], e["key"]) for e in ledger]
    assert held_lease(ledger) is None
    assert "broke the lease of Test Maintainer" in result.stdout + result.stderr

    again = project.run("rc")
    assert again.exit_code == 0 and "Already done" in again.stdout
