"""rehearse: a full cycle in a sandbox; the real remote, work tree and ledger stay untouched."""

from __future__ import annotations

from tests.support.project import Project


def test_rehearse_runs_a_full_cycle_and_touches_nothing_real(project: Project) -> None:
    project.write("rcflow.toml", '[[validate]]\nname = "unit"\nrun = "true"\n')
    project.commit("chore: configure rcflow")
    project.push()
    before = project.world()

    result = project.run("rehearse", "-C", str(project.root))

    assert result.exit_code == 0, result.stderr
    assert "Rehearsal complete" in result.stdout
    assert "v1.4.0-rc.1" in result.stdout and "released" in result.stdout
    assert project.world() == before
    assert project.ledger() == []
    assert "v1.4.0" not in project.remote_tags()


def test_rehearse_includes_unpushed_local_commits(project: Project) -> None:
    project.write("fix.py", "FIXED = True\n")
    project.commit("fix: a local fix not pushed yet")
    before = project.world()

    result = project.run("rehearse", "--bump", "patch", "-C", str(project.root))

    assert result.exit_code == 0, result.stderr
    assert "v1.3.1-rc.1" in result.stdout
    assert project.world() == before


def test_demo_shows_every_step(project: Project) -> None:
    result = project.run("rehearse", "--demo")

    assert result.exit_code == 0, result.stderr
    out = result.stdout + result.stderr
    for text in (
        "rcflow bump auto",
        "v1.4.0-rc.1",
        "has not passed validation",
        "unit passed",
        "smoke passed",
        "Already done",
        "validation_passed",
        "State: released (v1.4.0)",
        "Rehearsal complete",
    ):
        assert text in out, text


def test_rehearse_json_is_one_document(project: Project) -> None:
    result = project.run("rehearse", "--demo", "--json")
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    assert doc["rehearsal"] == "complete"
    assert [(s["step"], s["exit_code"]) for s in doc["steps"]] == [
        ("bump", 0),
        ("rc", 0),
        ("promote", 3),
        ("validate", 0),
        ("promote", 0),
        ("promote", 0),
    ]
    assert doc["steps"][-1]["status"] == "done"
