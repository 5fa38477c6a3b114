"""Issue 12, items 3 and 5: a preflight that blocks only what breaks the step, waivers for good,
dry runs that show the plan and every blocker, status against the remote branch, the log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rcflow.preflight import workflows
from tests.support.project import Project, git
from tests.support.scenario import race_tag_on_origin

# A release workflow (it runs rcflow, so every step depends on it) with a script injection.
RELEASE_WF = (
    "on:\n  workflow_dispatch:\n    inputs:\n      version:\n        type: string\n"
    "permissions:\n  contents: read\n"
    "jobs:\n  release:\n    runs-on: ubuntu-latest\n    steps:\n"
    '      - run: echo "${{ inputs.version }}"\n'
    "      - run: rcflow --yes status\n"
)
WHERE = ".github/workflows/release.yml"


@pytest.fixture(autouse=True)
def no_actionlint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workflows, "find_actionlint", lambda root: None)


def with_release_workflow(make_project: Any, config: str) -> Project:
    p: Project = make_project(config=config)
    p.write(WHERE, RELEASE_WF)
    p.commit("ci: release workflow")
    p.push()
    return p


def waived(p: Project) -> list[dict[str, Any]]:
    return [e for e in p.ledger() if e["kind"] == "check_waived"]


@pytest.mark.parametrize(
    "waiver", ["workflow.script-injection", f"workflow.script-injection@{WHERE}"]
)
def test_a_config_waiver_lets_the_step_go_and_is_recorded(make_project: Any, waiver: str) -> None:
    p = with_release_workflow(make_project, f'[preflight]\nwaive = ["{waiver}"]\n')

    dry = p.cli("bump", "minor", "--dry-run")
    assert dry.exit_code == 0, dry.stdout + dry.stderr
    assert waived(p) == []  # a dry run writes nothing
    applied = p.cli("bump", "minor", "--yes")

    assert applied.exit_code == 0, applied.stderr
    [event] = waived(p)
    assert event["key"] == f"workflow.script-injection@{WHERE}:12"
    assert event["data"]["step"] == "bump"
    assert event["data"]["by"] == f"rcflow.toml [preflight] waive {waiver}"
    doctor = p.cli("doctor", "--json")
    assert doctor.exit_code == 0, doctor.stdout
    found = {(f["id"], f["severity"]): f for f in doctor.json()["findings"]}
    assert found[("workflow.script-injection", "warning")]["message"].startswith(
        f"waived ({waiver})"
    )
    assert waiver in found[("preflight.waiver", "warning")]["message"]
    assert "check_waived" in p.cli("log").stdout


def test_a_waiver_for_another_file_does_not_cover_the_finding(make_project: Any) -> None:
    p = with_release_workflow(
        make_project,
        '[preflight]\nwaive = ["workflow.script-injection@.github/workflows/other.yml"]\n',
    )
    refused = p.cli("bump", "minor", "--yes")
    assert refused.exit_code == 3
    assert "workflow.script-injection" in refused.stderr
    assert p.ledger() == []
    # --skip-check takes id@file too, for one run.
    skipped = p.cli("bump", "minor", "--yes", "--skip-check", f"workflow.script-injection@{WHERE}")
    assert skipped.exit_code == 0, skipped.stderr
    assert waived(p)[0]["data"]["by"] == f"--skip-check workflow.script-injection@{WHERE}"


@pytest.mark.parametrize(
    "text",
    [
        '[preflight]\nwaive = ["Workflow Clash"]\n',
        '[preflight]\nwaive = ["workflow.x@../outside.yml"]\n',
        '[preflight]\nwaive = "workflow.x"\n',
        "[preflight]\nunknown = 1\n",
    ],
)
def test_a_bad_waiver_is_a_config_error(make_project: Any, text: str) -> None:
    p: Project = make_project(config=text)
    result = p.cli("bump", "minor", "--dry-run")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "preflight" in result.stderr


def test_a_dry_run_shows_the_plan_and_every_blocker(make_project: Any) -> None:
    p = with_release_workflow(make_project, "")
    before = p.ledger()

    result = p.cli("bump", "minor", "--dry-run")

    assert result.exit_code == 3
    assert "Plan (dry run, nothing will change): rcflow bump 1.4.0" in result.stdout
    assert "write version 1.4.0" in result.stdout or "1.4.0" in result.stdout
    assert "✗ workflow.script-injection" in result.stdout
    assert "bump would be refused (1 blocker(s) above)" in result.stdout
    data = p.cli("bump", "minor", "--dry-run", "--json")
    assert data.exit_code == 3
    plan = data.json()["plan"]
    assert plan["effects"] and [b.split(":")[0] for b in plan["blockers"]] == [
        "workflow.script-injection"
    ]
    assert p.ledger() == before


def test_a_dry_run_with_a_planner_blocker_shows_it_with_exit_3(project: Project) -> None:
    result = project.cli("promote", "--dry-run")
    assert result.exit_code == 3
    assert "✗" in result.stdout
    assert project.ledger() == []


def test_rollback_is_not_refused_by_a_workflow_the_release_does_not_run(
    project: Project,
) -> None:
    assert project.cli("bump", "minor", "--yes").exit_code == 0
    project.write(
        ".github/workflows/fuzz.yml",
        "on:\n  schedule:\n    - cron: '0 3 * * *'\npermissions:\n  contents: read\n"
        "jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/upload-artifact@v4\n        with:\n          name: out\n"
        "          path: out\n"
        "  b:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/download-artifact@v4\n        with:\n          name: out\n",
    )
    project.commit("ci: fuzz")
    project.push()
    assert project.cli("doctor").exit_code == 3  # an artifact race, reported
    result = project.cli("rollback", "--yes")
    assert result.exit_code == 0, result.stderr


# -- status against the remote branch -----------------------------------------------------------


def other_clone(project: Project, tmp_path: Path) -> Path:
    clone = tmp_path / "other"
    git(tmp_path, "clone", "--quiet", str(project.origin), str(clone))
    git(clone, "config", "user.name", "Other")
    git(clone, "config", "user.email", "other@example.invalid")
    (clone / "other.txt").write_text("x\n")
    git(clone, "add", "-A")
    git(clone, "commit", "--quiet", "-m", "fix: elsewhere")
    git(clone, "push", "--quiet", "origin", "main")
    return clone


def sync(project: Project) -> tuple[str | None, bool, str]:
    data = project.status()
    line = next(x for x in project.cli("status").stdout.splitlines() if x.startswith("Remote:"))
    return data["branch_sync"], data["in_sync"], line


def test_status_says_ahead_behind_and_diverged(project: Project, tmp_path: Path) -> None:
    assert sync(project)[:2] == ("in sync", True)
    other_clone(project, tmp_path)
    state, in_sync, line = sync(project)
    assert (state, in_sync) == ("behind", False)
    assert "behind origin/main" in line and "in sync" not in line
    project.write("mine.txt", "y\n")
    project.commit("fix: here")
    state, _, line = sync(project)
    assert state == "diverged" and "diverged from origin/main" in line
    git(project.root, "fetch", "--quiet", "origin")
    git(project.root, "reset", "--quiet", "--hard", "origin/main")
    project.write("mine.txt", "y\n")
    project.commit("fix: here, after a pull")
    state, _, line = sync(project)
    assert state == "ahead" and "ahead of origin/main" in line


# -- the log ------------------------------------------------------------------------------------


def test_log_hides_lease_events_and_shows_failed_attempts(project: Project) -> None:
    assert project.cli("bump", "minor", "--yes").exit_code == 0
    # An RC tag someone pushes meanwhile at another commit: the rc fails (exit 4), recorded.
    race_tag_on_origin(project, "v1.4.0-rc.1", project.git("rev-parse", "HEAD~1"))
    failed = project.cli("rc", "--yes")
    assert failed.exit_code == 4

    plain = project.cli("log").stdout
    assert "lease_acquired" not in plain and "lease_released" not in plain
    line = next(x for x in plain.splitlines() if "step_failed" in x)
    assert "rc/v1.4.0-rc.1" in line and "resume: rcflow rc --yes" in line
    assert "lease_acquired" in project.cli("log", "--all").stdout
    every = json.loads(project.run("log", "--all", "--json", "-C", str(project.root)).stdout)
    assert any(e["kind"] == "lease_released" for e in every["events"])
    quick = json.loads(project.run("log", "--json", "-C", str(project.root)).stdout)
    assert not any(e["kind"].startswith("lease_") for e in quick["events"])


def test_refusals_and_usage_errors_write_nothing(project: Project) -> None:
    before = project.ledger()
    assert project.cli("promote", "--yes").exit_code == 3  # nothing to promote
    assert project.cli("bump", "not-a-version", "--yes").exit_code == 2
    assert project.ledger() == before


def test_rehearse_honours_waivers_and_takes_skip_check(make_project: Any) -> None:
    p = with_release_workflow(make_project, "")
    stopped = p.run("rehearse", "-C", str(p.root))
    assert stopped.exit_code == 3, stopped.stdout + stopped.stderr
    assert "workflow.script-injection" in stopped.stderr

    done = p.run("rehearse", "--skip-check", "workflow.script-injection", "-C", str(p.root))

    assert done.exit_code == 0, done.stdout + done.stderr
    assert "Rehearsal complete" in done.stdout
    assert p.ledger() == []  # the real remote is untouched
