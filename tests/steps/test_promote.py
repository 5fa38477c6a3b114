"""promote: tag exactly the validated RC commit vX.Y.Z, push it, publish the release — once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rcflow.engine.executor import LedgerWriter
from rcflow.errors import EffectError
from rcflow.steps.bump import BumpArgs
from rcflow.steps.promote import PromoteArgs
from rcflow.steps.rc import RcArgs
from rcflow.steps.validate import ValidateArgs
from tests.support.crash import Attempt, crash_after, crash_each_write
from tests.support.project import Project, copy_project, git
from tests.support.scenario import at

RC = "v1.4.0-rc.1"
FINAL = "v1.4.0"


def validated(p: Project) -> Project:
    return at(p, "validated")


def rc_sha(p: Project) -> str:
    return p.remote_tags()[RC]


def forge_release(p: Project, tag: str) -> dict[str, Any] | None:
    return p.forge_release(tag)


def tag_object(repo: Path, tag: str) -> tuple[str, str]:
    """(object type, body without the tagger line) of a tag ref."""
    kind = git(repo, "cat-file", "-t", f"refs/tags/{tag}")
    body = git(repo, "cat-file", "-p", f"refs/tags/{tag}")
    return kind, "\n".join(line for line in body.splitlines() if not line.startswith("tagger "))


def outcome(p: Project) -> dict[str, Any]:
    """What a finished promotion leaves behind, comparable between copies of one project."""
    status = p.status()
    return {
        "remote_tags": p.remote_tags(),
        "local_tags": p.local_tags(),
        "tag_object": tag_object(p.origin, FINAL),
        "remote_main": git(p.origin, "rev-parse", "refs/heads/main"),
        "kinds": p.kinds(),
        "promoting": [e["data"] for e in p.ledger() if e["kind"] == "promoting"],
        "promoted": [e["data"] for e in p.ledger() if e["kind"] == "promoted"],
        "forge": p.world()["forge"],
        "files": p.world()["files"],
        "state": {k: status[k] for k in ("state", "version", "tag", "next", "problems")},
    }


# -- refusals --------------------------------------------------------------------------------


def refused(p: Project, message: str) -> None:
    world, ledger = p.world(), p.ledger()
    result = p.cli("promote")
    assert result.exit_code == 3, result.stderr
    assert "promote refused: nothing was changed" in result.stderr
    assert message in result.stderr
    assert p.world() == world
    assert p.ledger() == ledger


def test_refused_when_idle(project: Project) -> None:
    refused(project, "no release in flight: run `rcflow bump` first")


def test_refused_when_bumped(project: Project) -> None:
    assert project.step("bump", BumpArgs("auto")).status == "applied"
    refused(project, "1.4.0 has no release candidate yet: run `rcflow rc`")


def test_refused_when_candidate(project: Project) -> None:
    assert project.step("bump", BumpArgs("auto")).status == "applied"
    assert project.step("rc", RcArgs()).status == "applied"
    refused(project, f"{RC} has not passed validation: run `rcflow validate`")


def test_refused_when_rejected_names_the_failed_validation(make_project: Any) -> None:
    config = (
        '[[validate]]\nname = "unit"\nrun = "true"\n\n'
        '[[validate]]\nname = "lint"\nrun = "exit 3"\n\n'
        '[[validate]]\nname = "bench"\nrun = "exit 1"\nrequired = false\n'
    )
    p = make_project(config=config)
    assert p.step("bump", BumpArgs("auto")).status == "applied"
    assert p.step("rc", RcArgs()).status == "applied"
    assert p.step("validate", ValidateArgs()).status == "failed"
    assert p.status()["state"] == "rejected"
    refused(p, f"{RC} failed validation (lint): fix it, then cut a new RC with `rcflow rc`")


# -- the happy path --------------------------------------------------------------------------


def test_promote_tags_exactly_the_rc_commit_and_publishes(make_project: Any) -> None:
    p = validated(make_project(config='[[validate]]\nname = "unit"\nrun = "true"\n'))
    sha = rc_sha(p)
    before = p.kinds()

    result = p.cli("promote")

    assert result.exit_code == 0, result.stderr
    assert p.remote_tags()[FINAL] == sha
    assert p.local_tags()[FINAL] == sha
    kind, body = tag_object(p.origin, FINAL)
    assert kind == "tag"  # annotated
    assert f"object {sha}" in body
    assert f"Release 1.4.0\n\nPromoted from {RC} ({sha}).\nValidation evidence:\n" in body
    assert re.search(r"^- unit: passed \(\d{4}-\d\d-\d\dT[\d:]+Z\)$", body, re.MULTILINE)
    assert p.kinds() == [*before, "promoting", "promoted"]
    promoting, promoted = [e for e in p.ledger() if e["kind"] in ("promoting", "promoted")]
    assert (promoting["key"], promoting["data"]["rc"], promoting["data"]["sha"]) == (FINAL, RC, sha)
    assert promoted["key"] == FINAL
    assert {k: promoted["data"][k] for k in ("version", "rc", "sha")} == {
        "version": "1.4.0",
        "rc": RC,
        "sha": sha,
    }
    release = forge_release(p, FINAL)
    assert release is not None
    assert {k: release[k] for k in ("tag", "title", "prerelease", "draft")} == {
        "tag": FINAL,
        "title": "1.4.0",
        "prerelease": False,
        "draft": False,
    }
    # The notes: the commits up to the RC, grouped by type, and where the final came from.
    assert release["notes"].startswith("### Added\n\n- add a feature (")
    assert release["notes"].endswith(f"Promoted from {RC} ({sha[:7]}).\n")
    assert p.forge_latest() == FINAL
    status = p.status()
    assert (status["state"], status["version"], status["tag"]) == ("released", "1.4.0", FINAL)


def test_second_promote_is_a_no_op(project: Project) -> None:
    validated(project)
    assert project.cli("promote").exit_code == 0
    world, ledger = project.world(), project.ledger()

    again = project.cli("promote")

    assert again.exit_code == 0, again.stderr
    assert f"Already done: {FINAL} is released (promoted from {RC})." in again.stdout
    assert project.world() == world
    assert project.ledger() == ledger


def test_promote_tags_the_rc_commit_when_head_moved_on(project: Project) -> None:
    validated(project)
    sha = rc_sha(project)
    project.write("NOTES.md", "later work\n")
    later = project.commit("docs: later work")
    project.push()

    result = project.cli("promote")

    assert result.exit_code == 0, result.stderr
    assert project.remote_tags()[FINAL] == sha
    assert sha != later
    assert project.head() == later
    assert git(project.origin, "rev-parse", "refs/heads/main") == later


def test_final_tag_at_another_commit_on_origin_is_a_conflict(project: Project) -> None:
    validated(project)
    other = project.git("rev-parse", "v1.3.0^{commit}")
    git(project.origin, "tag", FINAL, other)
    world, ledger = project.world(), project.ledger()

    result = project.cli("promote")

    assert result.exit_code == 4, (result.stdout, result.stderr)
    assert FINAL in result.stderr
    assert other[:7] in result.stderr
    assert project.world() == world
    assert project.ledger() == ledger
    assert project.remote_tags()[FINAL] == other
    assert forge_release(project, FINAL) is None


def test_interrupted_promotion_does_not_adopt_a_final_tag_pushed_meanwhile(
    project: Project,
) -> None:
    """A run records `promoting`, then stops; someone pushes v1.4.0 elsewhere before the re-run."""
    validated(project)
    # the lease and promoting (2 commits, their one push, the local ref), then the tag
    _, failing = crash_after(project, "promote", PromoteArgs(), 4)
    assert failing.failed_call == "create_tag"
    assert project.kinds()[-1] == "promoting"
    other = project.git("rev-parse", "v1.3.0^{commit}")
    git(project.origin, "tag", FINAL, other)
    world = project.world()

    result = project.cli("promote")

    assert result.exit_code == 4, (result.stdout, result.stderr)
    assert project.world() == world
    assert "promoted" not in project.kinds()
    assert forge_release(project, FINAL) is None
    assert project.remote_tags()[FINAL] == other


# -- crashes ---------------------------------------------------------------------------------


def test_crash_after_every_write_then_rerun_matches_an_uninterrupted_run(
    make_project: Any, tmp_path: Path
) -> None:
    template = validated(make_project())
    twin = copy_project(template, tmp_path / "twin")
    assert twin.step("promote", PromoteArgs()).status == "applied"
    expected = outcome(twin)
    assert expected["remote_tags"][FINAL] == rc_sha(template)
    assert expected["kinds"].count("promoted") == 1

    def resume(crash: Attempt) -> None:
        rerun = crash.project.cli("promote")

        assert rerun.exit_code == 0, (crash.where, rerun.stderr)
        assert outcome(crash.project) == expected, crash.where

    crashes = crash_each_write(
        lambda name: copy_project(template, tmp_path / name), "promote", PromoteArgs(), resume
    )
    # every write was interrupted in turn: the lease, both events, the tag, its push, the release
    assert {"create_tag", "push", "create_release", "commit_tree_files", "update_ref"} <= set(
        crashes
    )
    assert len(crashes) >= 12


# -- two promotions at once ------------------------------------------------------------------


def test_two_processes_promoting_at_once_release_once(make_project: Any, tmp_path: Path) -> None:
    template = validated(make_project())
    sha = rc_sha(template)
    for attempt in range(3):
        p = copy_project(template, tmp_path / f"race{attempt}")
        argv = [sys.executable, "-m", "rcflow", "promote", "-C", str(p.root)]
        procs = [
            subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=dict(os.environ),
            )
            for _ in range(2)
        ]
        results = [(proc, *proc.communicate(timeout=120)) for proc in procs]
        codes = sorted(proc.returncode for proc, _, _ in results)

        assert codes in ([0, 0], [0, 4]), [(c.returncode, out, err) for c, out, err in results]
        for proc, _, err in results:
            if proc.returncode == 4:
                assert (
                    "holds the release lease" in err
                    or "took the release lease first" in err
                    or "the release changed while this run was starting" in err
                ), err
        assert p.remote_tags()[FINAL] == sha
        assert [t for t in p.remote_tags() if t == FINAL] == [FINAL]
        assert p.kinds().count("promoted") == 1
        assert p.kinds().count("promoting") == 1
        assert forge_release(p, FINAL) is not None
        assert p.status()["state"] == "released"


# -- rc_in_files -----------------------------------------------------------------------------


def test_rc_in_files_final_commit_changes_only_the_version(make_project: Any) -> None:
    p = validated(make_project(config="rc_in_files = true\n"))
    sha = rc_sha(p)
    assert 'version = "1.4.0rc1"' in p.git("show", f"{sha}:pyproject.toml")

    result = p.cli("promote")

    assert result.exit_code == 0, result.stderr
    final = p.remote_tags()[FINAL]
    assert final != sha
    assert p.git("rev-parse", f"{final}^") == sha
    assert p.git("diff", "--name-only", sha, final) == "pyproject.toml"
    changed = [
        line
        for line in p.git("diff", "--unified=0", sha, final).splitlines()
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
    ]
    assert changed == ['-version = "1.4.0rc1"', '+version = "1.4.0"']
    assert p.git("log", "-1", "--format=%s", final) == "chore(release): 1.4.0"
    assert p.head() == final
    assert git(p.origin, "rev-parse", "refs/heads/main") == final
    assert tag_object(p.origin, FINAL)[0] == "tag"
    assert p.read("pyproject.toml") == '[project]\nname = "demo"\nversion = "1.4.0"\n'
    assert p.kinds()[-2:] == ["promoting", "promoted"]
    assert p.status()["state"] == "released"
    again = p.cli("promote")
    assert again.exit_code == 0
    assert "Already done" in again.stdout


def test_rc_in_files_refuses_when_someone_committed_after_the_rc(make_project: Any) -> None:
    p = validated(make_project(config="rc_in_files = true\n"))
    p.write("feature.py", "def feature():\n    return 43\n")
    p.commit("fix: answer 43")
    p.push()
    world, ledger = p.world(), p.ledger()

    result = p.cli("promote")

    assert result.exit_code == 3, result.stderr
    assert (
        f"main moved since {RC}: with rc_in_files the final commit must follow the RC directly"
        in result.stderr
    )
    assert p.world() == world
    assert p.ledger() == ledger
    assert FINAL not in p.remote_tags()


def test_status_names_an_unfinished_promotion_and_promote_finishes_it(
    make_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = make_project()
    for step, args in (("bump", BumpArgs("auto")), ("rc", RcArgs()), ("validate", ValidateArgs())):
        assert p.step(step, args).status == "applied"
    original = LedgerWriter.append

    def fail_on_promoted(
        self: LedgerWriter, kind: str, key: str, data: Any, *, defer: bool = False
    ) -> Any:
        if kind == "promoted":
            raise EffectError("the ledger commit failed")
        return original(self, kind, key, data, defer=defer)

    # `promoted` rides in the final tag's push, with the forge's release: failing to record
    # it, the push is not made, and only the decision is on the remote.
    monkeypatch.setattr(LedgerWriter, "append", fail_on_promoted)
    assert p.cli("promote").exit_code == 1
    monkeypatch.setattr(LedgerWriter, "append", original)
    assert FINAL not in p.remote_tags()
    assert p.forge_release(FINAL) is None
    assert p.kinds()[-1] == "promoting"
    status = p.status()
    assert status["next"][0] == "promote", status
    finished = p.cli("promote")
    assert finished.exit_code == 0, finished.stderr
    assert p.kinds()[-2:] == ["promoting", "promoted"]

    # A final tag and release without `promoted` (an older rcflow stopped between them, or the
    # GitHub forge, whose release is not in the tag's push): status names it, promote ends it.
    q = make_project()
    for step, args in (("bump", BumpArgs("auto")), ("rc", RcArgs()), ("validate", ValidateArgs())):
        assert q.step(step, args).status == "applied"

    def skip_promoted(
        self: LedgerWriter, kind: str, key: str, data: Any, *, defer: bool = False
    ) -> Any:
        if kind == "promoted":
            return None
        return original(self, kind, key, data, defer=defer)

    monkeypatch.setattr(LedgerWriter, "append", skip_promoted)
    assert q.cli("promote").exit_code == 0
    monkeypatch.setattr(LedgerWriter, "append", original)
    assert FINAL in q.remote_tags()
    assert "promoted" not in q.kinds()

    status = q.status()
    assert status["state"] == "released"
    assert status["next"][0] == "promote"
    assert "the promotion of v1.4.0 is unfinished" in " ".join(status["problems"])
    finished = q.cli("promote")
    assert finished.exit_code == 0, finished.stderr
    assert q.kinds().count("promoted") == 1
    assert q.status()["next"] == ["bump", "rollback"]
