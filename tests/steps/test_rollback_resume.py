"""rollback as an idempotent step: twice is a no-op, a crash resumes the same rollback from any
clone, and a write the remote refused is the same unfinished work in every clone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rcflow.steps.rollback import RollbackArgs
from tests.support.crash import Attempt, count_writes, crash_each_write, killed_in
from tests.support.project import Project, copy_project, fresh_clone, git
from tests.support.scenario import at

RC1 = "v1.4.0-rc.1"

PYPROJECT_130 = '[project]\nname = "demo"\nversion = "1.3.0"\n'


def remote_outcome(p: Project) -> dict[str, Any]:
    """What every clone shares: origin's tags (peeled), branch tree, ledger and the state."""
    status = p.status()
    return {
        "tags": p.remote_tags(),
        "tree": git(p.origin, "rev-parse", "refs/heads/main^{tree}"),
        "subjects": git(p.origin, "log", "--format=%s", "-4", "refs/heads/main"),
        # A crashed attempt's `step_failed` record is the audit trail, not the outcome.
        "ledger": [
            (e["kind"], e["key"])
            for e in p.ledger()
            if not e["kind"].startswith("lease") and e["kind"] != "step_failed"
        ],
        "state": {k: status[k] for k in ("state", "version", "target", "problems", "next")},
    }


def local_outcome(p: Project) -> dict[str, Any]:
    return {
        "local_tags": p.local_tags(),
        "files": p.world()["files"],
        "status": p.git("status", "--porcelain"),
        "tree": p.git("rev-parse", "HEAD^{tree}"),
    }


def make(kind: str, make_project: Any) -> Project:
    return at(make_project(), {"rc": "rc", "release": "promoted", "bump": "bumped"}[kind])


NAMES = {"rc": RC1, "release": "v1.4.0", "bump": "1.4.0"}
DONE = {
    "rc": f"{RC1} is already withdrawn (to undo the bump to 1.4.0 too, name it: "
    "`rcflow rollback 1.4.0`)",
    "release": "v1.4.0 is already retracted",
    "bump": "the bump to 1.4.0 is already reverted",
}


# -- twice -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rc", "release", "bump"])
def test_a_second_rollback_is_already_done_named_or_not(kind: str, make_project: Any) -> None:
    p = make(kind, make_project)
    first = p.cli("rollback")
    assert first.exit_code == 0, first.stderr
    world, ledger = p.world(), p.ledger()

    for args in ((), (NAMES[kind],)):
        again = p.cli("rollback", *args)

        assert again.exit_code == 0, (args, again.stderr)
        assert "Already done" in again.stdout, again.stdout
        assert p.world() == world
        assert p.ledger() == ledger
    unnamed = p.cli("rollback")
    assert f"Already done: {DONE[kind]}." in unnamed.stdout
    # From another clone, the same answer.
    other = fresh_clone(p, p.base.parent / f"{p.base.name}-other")
    again = other.cli("rollback")
    assert again.exit_code == 0, again.stderr
    assert f"Already done: {DONE[kind]}." in again.stdout
    assert p.ledger() == ledger


def test_the_bump_under_a_withdrawn_rc_goes_only_when_named(project: Project) -> None:
    at(project, "rc")
    assert project.cli("rollback").exit_code == 0
    assert project.cli("rollback").exit_code == 0
    assert project.status()["state"] == "bumped"

    named = project.cli("rollback", "1.4.0")

    assert named.exit_code == 0, named.stderr
    assert project.status()["state"] == "idle"
    assert project.read("pyproject.toml") == PYPROJECT_130
    assert project.kinds() == ["bumped", "rc_tagged", "rc_withdrawn", "bump_reverted"]


def old_revert(p: Project) -> Callable[[str, str], None]:
    """What rcflow's revert did before it committed in one go: `git revert --no-commit`."""

    def revert(sha: str, message: str) -> None:
        p.git("revert", "--no-edit", "--no-commit", sha)

    return revert


# -- crashes, resumed here and from a fresh clone ----------------------------------------------


@pytest.mark.parametrize("named", [False, True], ids=["unnamed", "named"])
@pytest.mark.parametrize("kind", ["rc", "release", "bump"])
def test_a_crash_after_each_write_resumes_the_same_rollback_from_any_clone(
    kind: str, named: bool, make_project: Any, tmp_path: Path
) -> None:
    template = make(kind, make_project)
    args = RollbackArgs(NAMES[kind] if named else None)
    again = (NAMES[kind],) if named else ()
    twin = copy_project(template, tmp_path / "twin")
    writes = len(count_writes(twin, "rollback", args))
    expected, expected_here = remote_outcome(twin), local_outcome(twin)

    def resume(crash: Attempt) -> None:
        k, p = crash.k, crash.project
        # Odd points resume from a fresh clone first (then the crashed clone catches up).
        if k % 2:
            other = crash.fresh_clone()
            rerun = other.cli("rollback", *again)
            assert rerun.exit_code == 0, (crash.where, rerun.stdout, rerun.stderr)
            assert remote_outcome(other) == expected, crash.where
        rerun = p.cli("rollback", *again)

        assert rerun.exit_code == 0, (crash.where, rerun.stdout, rerun.stderr)
        if kind == "bump" and k % 2 and p.head() != git(p.origin, "rev-parse", "refs/heads/main"):
            # The fresh clone made the revert: this clone pulls it like any other commit. When
            # the crash came after this clone's own revert, before its push, that local commit is
            # the same change and the rebase drops it.
            assert "Already done" in rerun.stdout, rerun.stdout
            git(p.root, "pull", "--quiet", "--rebase")
        assert remote_outcome(p) == expected, crash.where
        assert local_outcome(p) == expected_here, crash.where
        assert p.cli("rollback").exit_code == 0  # and once more: nothing left
        assert remote_outcome(p) == expected

    crashed_at = crash_each_write(
        lambda name: copy_project(template, tmp_path / name),
        "rollback",
        args,
        resume,
        writes=writes,
    )
    assert "push" in crashed_at
    if kind == "bump":
        assert {"revert_commit", "reset_keep"} <= set(crashed_at)


def test_a_revert_stopped_between_building_it_and_moving_the_branch_resumes(
    project: Project,
) -> None:
    """Killed right after the revert commit was built: nothing in the work tree to trip on."""
    bump_commit = at(project, "bumped").head()
    killed_in(project, "rollback", RollbackArgs(), "reset_keep")
    assert project.kinds()[-1] == "bump_reverted"
    assert project.git("status", "--porcelain") == ""
    assert project.head() == bump_commit

    result = project.cli("rollback", "--break-lease")

    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert project.read("pyproject.toml") == PYPROJECT_130
    assert project.git("rev-parse", "HEAD^") == bump_commit
    assert git(project.origin, "rev-parse", "refs/heads/main") == project.head()
    assert project.status()["state"] == "idle"


def test_a_revert_an_older_rcflow_left_uncommitted_is_finished(project: Project) -> None:
    """`git revert --no-commit` killed before its commit (what rcflow did before): the work
    tree holds the revert, the ledger has `bump_reverted`; the re-run commits and pushes it."""
    bump_commit = at(project, "bumped").head()
    killed_in(project, "rollback", RollbackArgs(), "revert_commit", old_revert(project))
    assert project.kinds()[-1] == "bump_reverted"
    assert project.git("status", "--porcelain") == "M  pyproject.toml"
    assert (project.root / ".git" / "REVERT_HEAD").exists()

    result = project.cli("rollback", "--break-lease")

    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "finished the revert left in the work tree" in result.stderr
    assert project.git("status", "--porcelain") == ""
    assert not (project.root / ".git" / "REVERT_HEAD").exists()
    assert project.read("pyproject.toml") == PYPROJECT_130
    assert project.git("rev-parse", "HEAD^") == bump_commit
    assert git(project.origin, "rev-parse", "refs/heads/main") == project.head()
    assert project.status()["state"] == "idle"
    assert project.cli("rollback").exit_code == 0


def test_other_uncommitted_changes_still_block_a_resumed_revert(project: Project) -> None:
    at(project, "bumped")
    killed_in(project, "rollback", RollbackArgs(), "revert_commit", old_revert(project))
    project.write("feature.py", "def feature():\n    return 0\n")

    result = project.cli("rollback", "--break-lease")

    assert result.exit_code == 3
    assert "feature.py" in result.stderr
    assert "pyproject.toml" not in result.stderr.split("uncommitted")[-1]
    assert "resume with" not in result.stderr


# -- the remote refuses a write ----------------------------------------------------------------


def refuse(p: Project, ref: str) -> Path:
    hook = p.origin / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        "while read old new ref; do\n"
        f'  if [ "$ref" = "{ref}" ]; then echo "policy: $ref is frozen" >&2; exit 1; fi\n'
        "done\n"
    )
    hook.chmod(0o755)
    return hook


def shared_view(p: Project) -> dict[str, Any]:
    status = p.status()
    return {k: status[k] for k in ("state", "version", "target", "tag", "problems", "next")}


def test_a_refused_final_tag_leaves_the_rc_validated_everywhere_until_promote_pushes_it(
    project: Project, tmp_path: Path
) -> None:
    at(project, "rc")
    assert project.cli("validate").exit_code == 0
    hook = refuse(project, "refs/tags/v1.4.0")

    result = project.cli("promote")

    assert result.exit_code == 1, result.stderr
    assert "v1.4.0" in result.stderr
    assert "v1.4.0" not in project.remote_tags()
    here = shared_view(project)
    other = fresh_clone(project, tmp_path / "other")
    assert shared_view(other) == here
    assert here["state"] == "validated"
    assert here["problems"] == [
        "the promotion of v1.4.0 is unfinished: the tag is not on origin; "
        "`rcflow promote` finishes it"
    ]
    assert here["next"][0] == "promote"
    doctor = other.cli("doctor")
    assert "the promotion of v1.4.0 is unfinished" in doctor.stdout + doctor.stderr

    hook.unlink()
    again = project.cli("promote")

    assert again.exit_code == 0, again.stderr
    assert project.remote_tags()["v1.4.0"] == project.remote_tags()[RC1]
    assert shared_view(project)["state"] == shared_view(other)["state"] == "released"
    assert shared_view(other)["problems"] == []
    assert [k for k in project.kinds() if k.startswith("promot")] == ["promoting", "promoted"]


def test_a_fresh_clone_finishes_a_promotion_whose_tag_was_refused(
    project: Project, tmp_path: Path
) -> None:
    at(project, "rc")
    assert project.cli("validate").exit_code == 0
    hook = refuse(project, "refs/tags/v1.4.0")
    assert project.cli("promote").exit_code == 1
    hook.unlink()
    other = fresh_clone(project, tmp_path / "other")  # the local forge is on the remote

    result = other.cli("promote")

    assert result.exit_code == 0, result.stderr
    assert other.remote_tags()["v1.4.0"] == other.remote_tags()[RC1]
    assert shared_view(project) == shared_view(other)
    assert shared_view(project)["state"] == "released"


def test_rollback_after_a_refused_promotion_withdraws_the_rc_and_burns_nothing(
    project: Project, tmp_path: Path
) -> None:
    at(project, "rc")
    assert project.cli("validate").exit_code == 0
    hook = refuse(project, "refs/tags/v1.4.0")
    assert project.cli("promote").exit_code == 1
    hook.unlink()

    result = project.cli("rollback")

    assert result.exit_code == 0, result.stderr
    assert "retracted" not in project.kinds()
    assert project.kinds()[-1] == "rc_withdrawn"
    assert "v1.4.0" not in project.local_tags()  # the abandoned final tag went with its RC
    assert shared_view(project) == shared_view(fresh_clone(project, tmp_path / "other"))
    assert shared_view(project)["state"] == "bumped"
    assert shared_view(project)["problems"] == []
    # 1.4.0 was never published: a new RC of it can still be promoted.
    for step in ("rc", "validate", "promote"):
        assert project.cli(step).exit_code == 0, step
    assert project.remote_tags()["v1.4.0"] == project.remote_tags()["v1.4.0-rc.2"]
    assert project.status()["state"] == "released"


def test_a_refused_branch_push_during_a_bump_rollback_is_the_same_unfinished_work_everywhere(
    project: Project, tmp_path: Path
) -> None:
    bump_commit = at(project, "bumped").head()
    hook = refuse(project, "refs/heads/main")

    result = project.cli("rollback")

    assert result.exit_code == 1, result.stderr
    assert git(project.origin, "rev-parse", "refs/heads/main") == bump_commit
    here = shared_view(project)
    other = fresh_clone(project, tmp_path / "other")
    assert shared_view(other) == here
    assert (here["state"], here["target"]) == ("bumped", "1.4.0")
    assert here["problems"] == [
        "the bump to 1.4.0 is reverted in the ledger but not on origin: "
        "`rcflow rollback` finishes it"
    ]
    assert here["next"] == ["rollback"]
    assert project.cli("rollback").exit_code == 1  # still refused: the same message, no harm

    hook.unlink()
    again = project.cli("rollback")

    assert again.exit_code == 0, again.stderr
    assert git(project.origin, "rev-parse", "refs/heads/main") == project.head()
    git(other.root, "pull", "--quiet", "--ff-only")
    assert shared_view(project) == shared_view(other)
    assert shared_view(other)["state"] == "idle"
    assert shared_view(other)["problems"] == []
    assert project.kinds() == ["bumped", "bump_reverted"]
    assert project.cli("rollback").exit_code == 0


def test_a_fresh_clone_finishes_a_bump_rollback_whose_push_was_refused(
    project: Project, tmp_path: Path
) -> None:
    at(project, "bumped")
    hook = refuse(project, "refs/heads/main")
    assert project.cli("rollback").exit_code == 1
    hook.unlink()
    other = fresh_clone(project, tmp_path / "other")

    result = other.cli("rollback")

    assert result.exit_code == 0, result.stderr
    assert other.read("pyproject.toml") == PYPROJECT_130
    assert shared_view(other)["state"] == "idle"
    # The first clone's own revert was never pushed; it now sees the rollback done.
    assert shared_view(project)["state"] == "idle"
    assert project.cli("rollback").exit_code == 0


# -- resume messages are promises --------------------------------------------------------------


def test_a_refused_push_names_what_did_not_reach_the_remote_and_how_to_resume(
    project: Project,
) -> None:
    at(project, "rc")
    assert project.cli("validate").exit_code == 0
    refuse(project, "refs/tags/v1.4.0")

    result = project.cli("promote")

    assert result.exit_code == 1
    assert "hint: tag v1.4.0 did not reach origin: once origin accepts it, resume" in (
        result.stderr
    )
    assert "state: validated (v1.4.0-rc.1); resume with: rcflow promote --yes" in result.stderr


def test_no_resume_command_is_promised_when_a_re_run_would_be_refused(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    from rcflow.cli.guard import Options, guard, output
    from rcflow.errors import EffectError

    opts = Options(False, False, True, project.root)

    def fails() -> int:
        raise EffectError("the forge timed out")

    code = guard(
        opts, output(opts), "rcflow promote --yes", fails, lambda: ("feature.py is modified",)
    )

    assert code == 1
    err = capsys.readouterr().err
    assert "before re-running, fix: feature.py is modified" in err
    assert "resume with" not in err
    code = guard(opts, output(opts), "rcflow promote --yes", fails, lambda: ())
    assert "resume with: rcflow promote --yes" in capsys.readouterr().err


def test_no_step_builds_on_a_bump_whose_revert_the_remote_refused(project: Project) -> None:
    at(project, "bumped")
    refuse(project, "refs/heads/main")
    assert project.cli("rollback").exit_code == 1
    world, ledger = project.world(), project.ledger()

    for step in ("rc", "bump", "promote"):
        result = project.cli(step)

        assert result.exit_code == 3, (step, result.stderr)
        assert "a rollback is unfinished: run `rcflow rollback` to complete it first" in (
            result.stderr
        )
        assert project.world() == world
        assert project.ledger() == ledger
