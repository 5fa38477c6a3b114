"""rollback: withdraw an RC, retract a release, revert a bump — and never reuse a number."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rcflow.steps.bump import BumpArgs
from rcflow.steps.rc import RcArgs
from rcflow.steps.rollback import RollbackArgs
from rcflow.steps.validate import ValidateArgs
from tests.support.crash import Attempt, count_writes, crash_after, crash_each_write
from tests.support.ledger import last
from tests.support.project import Project, copy_project, git
from tests.support.scenario import at

RC1 = "v1.4.0-rc.1"
PYPROJECT_130 = '[project]\nname = "demo"\nversion = "1.3.0"\n'
PYPROJECT_140 = '[project]\nname = "demo"\nversion = "1.4.0"\n'


def bumped(p: Project) -> str:
    return at(p, "bumped").head()


def candidate(p: Project) -> Project:
    return at(p, "rc")


def released(p: Project) -> Project:
    return at(p, "promoted")


def forge_release(p: Project, tag: str) -> dict[str, Any] | None:
    return p.forge_release(tag)


def remote_main(p: Project) -> str:
    return git(p.origin, "rev-parse", "refs/heads/main")


# -- withdrawing an RC -----------------------------------------------------------------------


def test_rollback_withdraws_the_rc(project: Project) -> None:
    candidate(project)
    sha = project.remote_tags()[RC1]
    bump_commit = project.head()
    assert forge_release(project, RC1) is not None

    result = project.cli("rollback", "--reason", "bad build")

    assert result.exit_code == 0, result.stderr
    assert RC1 not in project.local_tags()
    assert RC1 not in project.remote_tags()
    assert forge_release(project, RC1) is None
    assert project.kinds() == ["bumped", "rc_tagged", "rc_withdrawn"]
    withdrawn = last(project, "rc_withdrawn")
    assert withdrawn["key"] == RC1
    assert {k: withdrawn["data"][k] for k in ("sha", "rc", "reason")} == {
        "sha": sha,
        "rc": 1,
        "reason": "bad build",
    }
    status = project.status()
    assert (status["state"], status["target"], status["withdrawn"]) == ("bumped", "1.4.0", [RC1])
    assert status["problems"] == []
    # Only the RC was undone: the bump stays.
    assert project.head() == bump_commit
    assert project.read("pyproject.toml") == PYPROJECT_140

    # Its number is never used again, even for the very same commit.
    assert project.cli("rc").exit_code == 0
    assert project.remote_tags()["v1.4.0-rc.2"] == sha
    assert RC1 not in project.remote_tags()
    assert project.status()["rc"] == 2


def test_withdrawing_the_newest_rc_returns_to_the_previous_rcs_state(project: Project) -> None:
    candidate(project)
    assert project.step("validate", ValidateArgs()).status == "applied"
    rc1 = project.remote_tags()[RC1]
    project.write("feature.py", "def feature():\n    return 43\n")
    project.commit("fix: answer 43")
    project.push()
    assert project.step("rc", RcArgs()).status == "applied"
    rc2 = project.remote_tags()["v1.4.0-rc.2"]
    assert project.status()["state"] == "candidate"

    result = project.cli("rollback", "v1.4.0-rc.2")

    assert result.exit_code == 0, result.stderr
    assert "v1.4.0-rc.2" not in project.remote_tags()
    assert project.remote_tags()[RC1] == rc1
    status = project.status()
    assert (status["state"], status["tag"], status["rc"]) == ("validated", RC1, 1)
    # A new RC of the same commit gets a fresh number.
    assert project.head() == rc2
    assert project.cli("rc").exit_code == 0
    assert project.remote_tags()["v1.4.0-rc.3"] == rc2
    assert "v1.4.0-rc.2" not in project.remote_tags()


def test_naming_the_rc_makes_a_second_rollback_a_no_op(project: Project) -> None:
    candidate(project)
    first = project.cli("rollback", RC1)
    assert first.exit_code == 0, first.stderr
    world, ledger = project.world(), project.ledger()

    second = project.cli("rollback", RC1)

    assert second.exit_code == 0, second.stderr
    assert f"Already done: {RC1} is already rolled back." in second.stdout
    assert project.world() == world
    assert project.ledger() == ledger
    assert project.kinds().count("rc_withdrawn") == 1
    assert project.read("pyproject.toml") == PYPROJECT_140


def test_naming_something_that_is_not_the_newest_is_refused(project: Project) -> None:
    candidate(project)
    world, ledger = project.world(), project.ledger()

    result = project.cli("rollback", "v1.4.0-rc.7")

    assert result.exit_code == 3
    assert f"v1.4.0-rc.7 is not the newest transition: that is {RC1}" in result.stderr
    assert project.world() == world
    assert project.ledger() == ledger


# -- retracting a release --------------------------------------------------------------------


def test_rollback_retracts_a_release(project: Project) -> None:
    released(project)
    tags = project.remote_tags()

    result = project.cli("rollback", "--reason", "broken wheel")

    assert result.exit_code == 0, result.stderr
    assert project.remote_tags() == tags  # the tag stays: a published version is never reused
    assert project.local_tags()["v1.4.0"] == tags["v1.4.0"]
    retracted = last(project, "retracted")
    assert retracted["key"] == "v1.4.0"
    assert {k: retracted["data"][k] for k in ("version", "previous", "reason")} == {
        "version": "1.4.0",
        "previous": "1.3.0",
        "reason": "broken wheel",
    }
    assert project.kinds()[-1] == "retracted"
    release = forge_release(project, "v1.4.0")
    assert release is not None
    assert release["retracted"] is True
    assert release["prerelease"] is True  # as on GitHub: no longer offered as a release
    assert release["notes"].startswith(
        "<!-- rcflow:retracted -->\n> **Retracted: broken wheel**\n\n### Added\n"
    )
    status = project.status()
    assert (status["state"], status["version"], status["next"]) == ("retracted", "1.3.0", ["bump"])
    assert status["retracted"] == ["v1.4.0"]

    again = project.cli("rollback", "v1.4.0")
    assert again.exit_code == 0
    assert "Already done: v1.4.0 is already rolled back." in again.stdout

    assert project.cli("bump", "patch").exit_code == 0
    assert 'version = "1.4.1"' in project.read("pyproject.toml")
    assert project.status()["target"] == "1.4.1"


# -- reverting a bump ------------------------------------------------------------------------


def test_rollback_reverts_a_pushed_bump(project: Project) -> None:
    bump_commit = bumped(project)
    assert remote_main(project) == bump_commit

    result = project.cli("rollback")

    assert result.exit_code == 0, result.stderr
    assert project.read("pyproject.toml") == PYPROJECT_130
    assert project.git("log", "-1", "--format=%s") == "chore(release): revert bump to 1.4.0"
    assert project.git("rev-parse", "HEAD^") == bump_commit
    assert remote_main(project) == project.head()
    assert project.git("status", "--porcelain") == ""
    reverted = last(project, "bump_reverted")
    assert (reverted["key"], reverted["data"]["commit"]) == ("1.4.0", bump_commit)
    assert project.kinds() == ["bumped", "bump_reverted"]
    assert project.status()["state"] == "idle"

    again = project.cli("rollback", "1.4.0")
    assert again.exit_code == 0, again.stderr
    assert "Already done: the bump to 1.4.0 is already reverted." in again.stdout
    assert project.kinds() == ["bumped", "bump_reverted"]


def test_rollback_resets_a_bump_that_a_crash_left_unpushed(
    make_project: Any, tmp_path: Path
) -> None:
    template = make_project()
    before = template.head()
    # stop the bump exactly at its push (the lease's own pushes come before its commit)
    writes = count_writes(copy_project(template, tmp_path / "twin"), "bump", BumpArgs("auto"))
    p = copy_project(template, tmp_path / "unpushed")
    _, failing = crash_after(
        p, "bump", BumpArgs("auto"), writes.index("push", writes.index("commit"))
    )
    assert failing.failed_call == "push" and p.head() != before
    bump_commit = p.head()
    assert p.read("pyproject.toml") == PYPROJECT_140
    assert remote_main(p) == before
    assert p.status()["state"] == "bumped"

    result = p.cli("rollback")

    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert p.head() == before
    assert remote_main(p) == before
    assert p.read("pyproject.toml") == PYPROJECT_130
    assert p.git("status", "--porcelain") == ""
    assert bump_commit not in p.git("log", "--format=%H", "--all", "--", ".")
    assert (last(p, "bump_reverted")["key"], last(p, "bump_reverted")["data"]["commit"]) == (
        "1.4.0",
        bump_commit,
    )
    assert p.status()["state"] == "idle"


def test_rollback_resets_a_recorded_bump_the_remote_no_longer_has(project: Project) -> None:
    before = project.head()
    bump_commit = bumped(project)
    # Someone rewound the remote branch: the bump is recorded but exists only here.
    git(project.origin, "update-ref", "refs/heads/main", before)

    result = project.cli("rollback")

    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert project.head() == before
    assert remote_main(project) == before
    assert project.read("pyproject.toml") == PYPROJECT_130
    assert last(project, "bump_reverted")["data"]["commit"] == bump_commit
    assert "revert bump" not in project.git("log", "--format=%s", "-3")


def test_rollback_with_nothing_in_flight_is_refused(project: Project) -> None:
    world, ledger = project.world(), project.ledger()

    result = project.cli("rollback")

    assert result.exit_code == 3
    assert "nothing to roll back in state idle" in result.stderr
    assert project.world() == world
    assert project.ledger() == ledger


# -- crashes ---------------------------------------------------------------------------------


def withdrawal_outcome(p: Project) -> dict[str, Any]:
    status = p.status()
    return {
        "remote_tags": p.remote_tags(),
        "local_tags": p.local_tags(),
        "kinds": p.kinds(),
        "withdrawn": [e["data"] for e in p.ledger() if e["kind"] == "rc_withdrawn"],
        "forge": p.world()["forge"],
        "files": p.world()["files"],
        "head": p.head(),
        "remote_main": remote_main(p),
        "state": {k: status[k] for k in ("state", "target", "withdrawn", "problems")},
    }


def test_crash_during_a_withdrawal_then_rollback_finishes_that_withdrawal(
    make_project: Any, tmp_path: Path
) -> None:
    template = candidate(make_project())
    twin = copy_project(template, tmp_path / "twin")
    writes = len(count_writes(twin, "rollback", RollbackArgs()))
    expected = withdrawal_outcome(twin)
    assert expected["kinds"] == ["bumped", "rc_tagged", "rc_withdrawn"]
    assert expected["files"]["pyproject.toml"] == PYPROJECT_140

    def resume(crash: Attempt) -> None:
        p = crash.project
        # Whatever is left, a bare re-run finishes this withdrawal and never undoes the bump.
        rerun = p.cli("rollback")

        assert rerun.exit_code == 0, (crash.where, rerun.stderr)
        assert withdrawal_outcome(p) == expected, crash.where
        assert "bump_reverted" not in p.kinds()

    crashed_at = crash_each_write(
        lambda name: copy_project(template, tmp_path / name),
        "rollback",
        RollbackArgs(),
        resume,
        writes=writes,
    )
    assert {"push", "delete_tag", "delete_release"} <= set(crashed_at)
