"""The whole cycle as a new user runs it: real subprocesses, real git, a bare origin."""

from __future__ import annotations

from tests.support.project import CliResult, Project


def run_twice(project: Project, *args: str) -> CliResult:
    """Run a step, then again at once: the second run must change nothing and say so."""
    first = project.run(*args)
    assert first.exit_code == 0, (args, first.stderr)
    world, ledger = project.world(), project.ledger()
    second = project.run(*args)
    assert second.exit_code == 0, (args, second.stderr)
    assert "Already done" in second.stdout, (args, second.stdout)
    assert project.world() == world
    assert project.ledger() == ledger
    return first


def test_new_user_cycle_end_to_end(project: Project) -> None:
    before = project.world()
    for args in (("bump", "auto"), ("rc",), ("promote",), ("validate",)):
        dry = project.run(*args, "--dry-run")
        assert dry.exit_code in (0, 3), dry.stderr
    assert project.world() == before, "--dry-run changed something"
    assert project.ledger() == []

    run_twice(project, "bump", "auto")
    assert 'version = "1.4.0"' in project.read("pyproject.toml")
    assert project.git("rev-parse", "origin/main") == project.head() or project.git(
        "ls-remote", "origin", "refs/heads/main"
    ).startswith(project.head())

    run_twice(project, "rc")
    assert project.remote_tags()["v1.4.0-rc.1"] == project.head()

    refused = project.run("promote")
    assert refused.exit_code == 3
    assert "has not passed validation" in refused.stderr
    assert "v1.4.0" not in project.remote_tags()

    run_twice(project, "validate")
    run_twice(project, "promote")
    tags = project.remote_tags()
    assert tags["v1.4.0"] == tags["v1.4.0-rc.1"]

    world = project.world()
    ledger = project.ledger()
    for args in (("bump", "auto"), ("rc",), ("validate",), ("promote",)):
        again = project.run(*args)
        assert again.exit_code == 0, (args, again.stderr)
        assert "Already done" in again.stdout, (args, again.stdout)
    assert project.world() == world
    assert project.ledger() == ledger

    status = project.status()
    assert status["state"] == "released"
    assert status["version"] == "1.4.0"
    assert status["tag"] == "v1.4.0"
    assert status["next"] == ["bump", "rollback"]
