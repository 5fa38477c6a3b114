"""rollback: withdraw an RC, retract a release, revert a bump — and never reuse a number."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rcflow.commands import run as commands
from rcflow.steps.bump import BumpArgs
from rcflow.steps.promote import PromoteArgs
from rcflow.steps.rc import RcArgs
from rcflow.steps.rollback import RollbackArgs
from rcflow.steps.validate import ValidateArgs
from tests.conftest import Hooks, Project, git
from tests.steps.test_promote import copy_project, is_crash

RC1 = "v1.4.0-rc.1"
PYPROJECT_130 = '[project]\nname = "demo"\nversion = "1.3.0"\n'
PYPROJECT_140 = '[project]\nname = "demo"\nversion = "1.4.0"\n'


def bumped(p: Project) -> str:
    assert p.step("bump", BumpArgs("auto")).status == "applied"
    assert p.status()["state"] == "bumped"
    return p.head()


def candidate(p: Project) -> Project:
    bumped(p)
    assert p.step("rc", RcArgs()).status == "applied"
    assert p.status()["state"] == "candidate"
    return p


def released(p: Project) -> Project:
    candidate(p)
    assert p.step("validate", ValidateArgs()).status == "applied"
    assert p.step("promote", PromoteArgs()).status == "applied"
    assert p.status()["state"] == "released"
    return p


def forge_release(p: Project, tag: str) -> dict[str, Any] | None:
    return p.forge_release(tag)


def remote_main(p: Project) -> str:
    return git(p.origin, "rev-parse", "refs/heads/main")


def last(p: Project, kind: str) -> dict[str, Any]:
    return [e for e in p.ledger() if e["kind"] == kind][-1]


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
    k = 0
    while True:  # stop the bump exactly at its push
        p = copy_project(template, tmp_path / f"unpushed{k}")
        ctx, failing = p.failing_ctx(after=k)
        try:
            commands.run_step(ctx, "bump", BumpArgs("auto"), dry_run=False, hooks=Hooks())
        except Exception as exc:
            assert is_crash(exc), exc
        assert failing.fired
        if failing.failed_call == "push" and p.head() != before:
            break
        k += 1
        assert k < 20
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
    ctx, counter = twin.failing_ctx(after=10**6)
    commands.run_step(ctx, "rollback", RollbackArgs(), dry_run=False, hooks=Hooks())
    writes = counter.calls
    expected = withdrawal_outcome(twin)
    assert expected["kinds"] == ["bumped", "rc_tagged", "rc_withdrawn"]
    assert expected["files"]["pyproject.toml"] == PYPROJECT_140

    crashed_at = []
    for k in range(writes):
        p = copy_project(template, tmp_path / f"k{k}")
        ctx, failing = p.failing_ctx(after=k)
        try:
            commands.run_step(ctx, "rollback", RollbackArgs(), dry_run=False, hooks=Hooks())
        except Exception as exc:
            assert is_crash(exc), exc
        assert failing.fired, k
        crashed_at.append(failing.failed_call)
        # Whatever is left, a bare re-run finishes this withdrawal and never undoes the bump.
        rerun = p.cli("rollback")

        assert rerun.exit_code == 0, (k, failing.failed_call, rerun.stderr)
        assert withdrawal_outcome(p) == expected, (k, failing.failed_call)
        assert "bump_reverted" not in p.kinds()
    assert {"push", "delete_tag", "delete_release"} <= set(crashed_at)
