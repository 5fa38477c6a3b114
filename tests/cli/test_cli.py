"""The command line as users and CI meet it: options, JSON documents, exit codes, GitHub Actions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rcflow import __version__
from rcflow.cli.app import app
from tests.support.project import CliResult, Project, git
from tests.support.scenario import race_tag_on_origin

VALIDATE_OK = '[[validate]]\nname = "unit"\nrun = "true"\n'
VALIDATE_FAILS = '[[validate]]\nname = "unit"\nrun = "exit 1"\n'


def doc(result: CliResult) -> Any:
    """stdout must be exactly one JSON document and nothing else (json.loads rejects extra data)."""
    assert result.stdout.strip().startswith("{"), result.stdout
    return json.loads(result.stdout)


def invoke(*args: str) -> CliResult:
    """The CLI with exactly these arguments (Project.cli appends -C after the command)."""
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


def push_commit_elsewhere(project: Project, name: str = "other.py") -> str:
    """Another clone pushes a commit to origin's main: the world changes under this clone."""
    other = project.base / f"other-{name}"
    if not other.exists():
        git(project.base, "clone", "--quiet", str(project.origin), str(other))
    git(other, "pull", "--quiet", "--ff-only")
    (other / name).write_text("x = 1\n", encoding="utf-8")
    git(other, "add", "-A")
    git(other, "commit", "--quiet", "-m", f"fix: {name}")
    git(other, "push", "--quiet", "origin", "HEAD:refs/heads/main")
    return git(other, "rev-parse", "HEAD")


def to_state(project: Project, state: str) -> None:
    steps = {
        "idle": [],
        "bumped": [("bump", "auto")],
        "candidate": [("bump", "auto"), ("rc",)],
        "validated": [("bump", "auto"), ("rc",), ("validate",)],
        "released": [("bump", "auto"), ("rc",), ("validate",), ("promote",)],
        "retracted": [("bump", "auto"), ("rc",), ("validate",), ("promote",), ("rollback",)],
    }[state]
    for args in steps:
        result = project.cli(*args)
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
    assert project.status()["state"] == state


# -- global options ----------------------------------------------------------------------------


def test_global_options_after_the_command(project: Project) -> None:
    to_state(project, "validated")
    before = project.world()
    result = project.cli("promote", "--dry-run", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "Dry run: nothing was changed." in result.stdout
    assert "create annotated tag v1.4.0" in result.stdout
    assert project.world() == before


def test_global_options_before_the_command(project: Project) -> None:
    to_state(project, "validated")
    before, ledger = project.world(), project.ledger()
    dry = invoke("--dry-run", "--yes", "-C", str(project.root), "promote")
    assert dry.exit_code == 0, dry.stderr
    assert "Dry run: nothing was changed." in dry.stdout
    assert project.world() == before
    assert project.ledger() == ledger

    status = invoke("--json", "-C", str(project.root), "status")
    assert status.exit_code == 0, status.stderr
    assert doc(status)["state"] == "validated"

    # The same through the in-process helper (it puts -C after the command).
    assert doc(project.cli("--json", "status"))["state"] == "validated"


def test_global_json_before_the_command_in_a_real_process(project: Project) -> None:
    result = project.run("--json", "status")
    assert result.exit_code == 0, result.stderr
    assert doc(result)["state"] == "idle"
    after = project.run("status", "--json")
    assert doc(after) == doc(result)


def test_version_and_help() -> None:
    version = invoke("--version")
    assert version.exit_code == 0
    assert version.stdout.strip() == f"rcflow {__version__}"

    helped = invoke("status", "--help")
    assert helped.exit_code == 0, helped.stderr
    assert "Usage: rcflow status" in helped.stdout
    assert "--json" in helped.stdout


def test_python_dash_m_rcflow(project: Project) -> None:
    version = project.run("--version")
    assert version.exit_code == 0, version.stderr
    assert version.stdout.strip() == f"rcflow {__version__}"
    status = project.run("status")
    assert status.exit_code == 0, status.stderr
    assert "State:" in status.stdout and "idle" in status.stdout


# -- one JSON document for every command ------------------------------------------------------


def test_json_documents_through_a_whole_cycle(project: Project) -> None:
    for args, state in (
        (("status",), "idle"),
        (("bump", "auto"), "bumped"),
        (("rc",), "candidate"),
        (("validate",), "validated"),
        (("promote",), "released"),
        (("rollback",), "retracted"),
    ):
        result = project.cli("--json", *args)
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        data = doc(result)
        assert data["state"] == state, (args, data)
        if args[0] != "status":
            assert data["step"] == args[0]
            assert data["status"] == "applied"
            assert data["applied"], data

    log = project.cli("log", "--json")
    assert log.exit_code == 0
    kinds = [e["kind"] for e in doc(log)["events"]]
    assert "bumped" in kinds and "retracted" in kinds


@pytest.mark.parametrize("step", ["rc", "validate", "promote", "rollback"])
def test_a_refusal_is_one_json_document_with_exit_3(project: Project, step: str) -> None:
    before = project.world()
    result = project.cli(step, "--json")
    assert result.exit_code == 3, result.stdout
    data = doc(result)
    assert data["exit_code"] == 3
    assert "refused" in data["error"]
    assert data["blockers"], data
    assert all(isinstance(b, str) and b for b in data["blockers"])
    assert project.world() == before
    assert project.ledger() == []


def test_json_already_done_is_exit_0(project: Project) -> None:
    assert project.cli("bump", "auto").exit_code == 0
    again = project.cli("bump", "auto", "--json")
    assert again.exit_code == 0, again.stderr
    data = doc(again)
    assert data["status"] == "done"
    assert data["applied"] == []


def test_json_dry_run_is_the_plan(project: Project) -> None:
    result = project.cli("--json", "--dry-run", "bump", "minor")
    assert result.exit_code == 0, result.stderr
    data = doc(result)
    assert data["status"] == "planned"
    assert data["plan"]["step"] == "bump"
    assert data["plan"]["version"] == "1.4.0"
    assert [e["kind"] for e in data["plan"]["effects"]][:2] == ["write_version_files", "commit"]
    assert project.ledger() == []


# -- status --json in every state --------------------------------------------------------------

EXPECTED_STATUS = {
    "idle": {
        "state": "idle",
        "version": "1.3.0",
        "target": None,
        "rc": None,
        "tag": "v1.3.0",
        "next": ["bump"],
    },
    "bumped": {
        "state": "bumped",
        "version": "1.3.0",
        "target": "1.4.0",
        "rc": None,
        "tag": None,
        "next": ["rc", "bump", "rollback"],
    },
    "candidate": {
        "state": "candidate",
        "version": "1.3.0",
        "target": "1.4.0",
        "rc": 1,
        "tag": "v1.4.0-rc.1",
        "next": ["validate", "rc", "rollback"],
    },
    "validated": {
        "state": "validated",
        "version": "1.3.0",
        "target": "1.4.0",
        "rc": 1,
        "tag": "v1.4.0-rc.1",
        "next": ["promote", "rc", "rollback"],
    },
    "released": {
        "state": "released",
        "version": "1.4.0",
        "target": None,
        "rc": None,
        "tag": "v1.4.0",
        "next": ["bump", "rollback"],
    },
    "retracted": {
        "state": "retracted",
        "version": "1.3.0",
        "target": None,
        "rc": None,
        "tag": "v1.3.0",
        "next": ["bump"],
    },
}


@pytest.mark.parametrize("state", list(EXPECTED_STATUS))
def test_status_json_in_every_state(project: Project, state: str) -> None:
    to_state(project, state)
    data = project.status()
    assert {k: data[k] for k in EXPECTED_STATUS[state]} == EXPECTED_STATUS[state]
    assert data["problems"] == []
    assert data["lease"] is None


def test_status_json_rejected(make_project: Any) -> None:
    project = make_project(config=VALIDATE_FAILS)
    to_state(project, "candidate")
    assert project.cli("validate").exit_code == 1
    data = project.status()
    assert {k: data[k] for k in ("state", "version", "target", "rc", "tag", "next")} == {
        "state": "rejected",
        "version": "1.3.0",
        "target": "1.4.0",
        "rc": 1,
        "tag": "v1.4.0-rc.1",
        "next": ["rc", "validate", "rollback"],
    }
    (candidate,) = data["candidates"]
    assert [(v["name"], v["passed"]) for v in candidate["validations"]] == [("unit", False)]
    # A validation run that failed did not validate the candidate.
    assert candidate["validated"] is False


def test_status_after_a_second_rc_names_it(project: Project) -> None:
    to_state(project, "candidate")
    project.write("more.py", "y = 2\n")
    project.commit("fix: more")
    project.push()
    assert project.cli("rc").exit_code == 0
    data = project.status()
    assert (data["state"], data["rc"], data["tag"]) == ("candidate", 2, "v1.4.0-rc.2")
    assert [c["tag"] for c in data["candidates"]] == ["v1.4.0-rc.1", "v1.4.0-rc.2"]


# -- exit codes --------------------------------------------------------------------------------


def test_exit_0_for_success_and_for_already_done(project: Project) -> None:
    first = project.cli("bump", "auto")
    assert first.exit_code == 0, first.stderr
    second = project.cli("bump", "auto")
    assert second.exit_code == 0, second.stderr
    assert "Already done" in second.stdout


def test_exit_1_when_a_required_validation_fails(make_project: Any) -> None:
    project = make_project(config=VALIDATE_FAILS)
    to_state(project, "candidate")
    result = project.cli("validate")
    assert result.exit_code == 1, result.stderr
    assert "unit failed" in result.stdout
    assert "State: rejected" in result.stdout

    as_json = project.cli("validate", "--json")
    assert as_json.exit_code == 1
    data = doc(as_json)
    assert data["status"] == "failed"
    assert [v["name"] for v in data["validations"] if not v["passed"]] == ["unit"]


def test_exit_0_when_only_an_optional_validation_fails(make_project: Any) -> None:
    project = make_project(
        config=VALIDATE_OK + '[[validate]]\nname = "lint"\nrun = "exit 1"\nrequired = false\n'
    )
    to_state(project, "candidate")
    result = project.cli("validate")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert project.status()["state"] == "validated"


def test_exit_2_for_an_unknown_option(project: Project) -> None:
    before = project.world()
    result = project.cli("promote", "--frobnicate")
    assert result.exit_code == 2
    assert "--frobnicate" in result.stderr
    assert project.world() == before


def test_exit_2_for_an_unknown_config_key(make_project: Any) -> None:
    project = make_project(config="frobnicate = 1\n")
    for args in (("status",), ("bump", "auto"), ("rc",), ("log",)):
        result = project.cli(*args)
        assert result.exit_code == 2, (args, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "rcflow.toml" in lines[0] and "frobnicate" in lines[0]
        as_json = project.cli("--json", *args)
        assert as_json.exit_code == 2
        data = doc(as_json)
        assert data["exit_code"] == 2
        assert "rcflow.toml" in data["error"] and "frobnicate" in data["error"]
    assert project.ledger() == []


@pytest.mark.parametrize("request_", ["banana", "1.5", "1.5.0-rc.1", "v"])
def test_exit_2_for_a_bump_that_is_not_a_part_or_version(project: Project, request_: str) -> None:
    before = project.world()
    result = project.cli("bump", request_)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert request_ in result.stderr
    as_json = project.cli("bump", request_, "--json")
    assert as_json.exit_code == 2
    assert doc(as_json)["exit_code"] == 2
    assert project.world() == before
    assert project.ledger() == []


def test_a_bump_below_the_last_release_is_refused_not_a_usage_error(project: Project) -> None:
    result = project.cli("bump", "1.2.0")
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert "not greater than the last release" in result.stderr


def test_exit_3_for_a_refusal(project: Project) -> None:
    to_state(project, "candidate")
    before = project.world()
    result = project.cli("promote")
    assert result.exit_code == 3
    assert "has not passed validation" in result.stderr
    assert "rcflow validate" in result.stderr
    assert project.world() == before


def test_exit_4_for_a_conflict(project: Project) -> None:
    """Another run pushed the same RC tag at another commit meanwhile: stop, move nothing."""
    to_state(project, "bumped")
    elsewhere = project.git("rev-parse", "HEAD~1")
    race_tag_on_origin(project, "v1.4.0-rc.1", elsewhere)
    result = project.cli("rc", "--json")
    assert result.exit_code == 4, (result.stdout, result.stderr)
    data = doc(result)
    assert data["exit_code"] == 4
    assert "v1.4.0-rc.1" in data["error"]
    # A re-run would stop on the same tag: no resume command is promised, the fix is named.
    assert data["resume"] is None
    assert "before re-running, fix: " in data["hint"]
    assert "v1.4.0-rc.1" in data["hint"]
    assert project.remote_tags()["v1.4.0-rc.1"] == elsewhere
    assert "rc_tagged" not in project.kinds()
    events = project.ledger()
    assert [e["kind"] for e in events][-3:] == ["lease_acquired", "step_failed", "lease_released"]
    failed = events[-2]["data"]
    assert failed["step"] == "rc" and "v1.4.0-rc.1" in failed["reason"]
    assert failed["resume"] == f"rcflow rc --yes -C {project.root}"


def test_a_hand_made_rc_tag_on_head_is_adopted_not_moved(project: Project) -> None:
    to_state(project, "bumped")
    head = project.head()
    git(project.origin, "tag", "v1.4.0-rc.1", head)
    result = project.cli("rc", "--json")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert doc(result)["state"] == "candidate"
    assert project.remote_tags()["v1.4.0-rc.1"] == head
    assert project.kinds()[-1] == "rc_tagged"


def test_dash_c_outside_a_git_repository(tmp_path: Path) -> None:
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    for path in (outside, tmp_path / "does-not-exist"):
        result = invoke("-C", str(path), "status")
        assert result.exit_code == 2, (result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert str(path) in lines[0]
        as_json = invoke("--json", "-C", str(path), "bump")
        assert as_json.exit_code == 2
        assert doc(as_json)["exit_code"] == 2


# -- GitHub Actions ----------------------------------------------------------------------------


@pytest.fixture
def actions(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Path, Path]:
    output, summary = tmp_path / "github_output", tmp_path / "step_summary"
    output.touch()
    summary.touch()
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    return output, summary


def read_outputs(path: Path) -> dict[str, str]:
    """Parse GITHUB_OUTPUT's `key<<DELIM ... DELIM` records; the last value of a key wins."""
    out: dict[str, str] = {}
    lines = iter(path.read_text(encoding="utf-8").splitlines())
    for line in lines:
        if "<<" in line:
            key, delim = line.split("<<", 1)
            value = []
            for inner in lines:
                if inner == delim:
                    break
                value.append(inner)
            out[key] = "\n".join(value)
        elif "=" in line:
            key, value_ = line.split("=", 1)
            out[key] = value_
    return out


def test_actions_outputs_and_summary(project: Project, actions: tuple[Path, Path]) -> None:
    output, summary = actions
    to_state(project, "candidate")
    result = project.cli("validate")
    assert result.exit_code == 0, result.stderr
    outputs = read_outputs(output)
    assert {k: outputs[k] for k in ("state", "version", "tag", "rc", "released")} == {
        "state": "validated",
        "version": "1.3.0",
        "tag": "v1.4.0-rc.1",
        "rc": "1",
        "released": "false",
    }
    plan = json.loads(outputs["plan"])
    assert plan["step"] == "validate"
    assert "validated" in summary.read_text(encoding="utf-8")
    assert "rcflow validate" in summary.read_text(encoding="utf-8")

    assert project.cli("promote").exit_code == 0
    outputs = read_outputs(output)
    assert (outputs["state"], outputs["version"], outputs["tag"], outputs["released"]) == (
        "released",
        "1.4.0",
        "v1.4.0",
        "true",
    )
    assert json.loads(outputs["plan"])["step"] == "promote"

    status = project.cli("status")
    assert status.exit_code == 0
    assert read_outputs(output)["state"] == "released"


def test_actions_failure_annotation_carries_the_resume_command(
    make_project: Any, actions: tuple[Path, Path]
) -> None:
    _, summary = actions
    project = make_project(config=VALIDATE_FAILS)
    to_state(project, "candidate")
    result = project.cli("validate")
    assert result.exit_code == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1, result.stdout
    assert "unit" in errors[0]
    assert "rcflow validate --yes" in errors[0]
    assert "rcflow validate --yes" in summary.read_text(encoding="utf-8")


def test_actions_failure_annotation_for_a_conflict(
    project: Project, actions: tuple[Path, Path]
) -> None:
    to_state(project, "bumped")
    plan_file = project.base / "plan.json"
    assert project.cli("rc", "--dry-run", "--plan-file", str(plan_file)).exit_code == 0
    push_commit_elsewhere(project)
    result = project.cli("rc", "--plan-file", str(plan_file))
    assert result.exit_code == 4
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1, result.stdout
    assert "changed since the plan" in errors[0]


def test_actions_json_mode_keeps_stdout_one_document(
    project: Project, actions: tuple[Path, Path]
) -> None:
    """In JSON mode the annotation must not corrupt the one document on stdout."""
    result = project.cli("promote", "--json")
    assert result.exit_code == 3
    assert doc(result)["exit_code"] == 3
    assert "::error" in result.stderr


def test_actions_refusal_summary_names_no_bogus_resume(
    project: Project, actions: tuple[Path, Path]
) -> None:
    _, summary = actions
    result = project.cli("promote")
    assert result.exit_code == 3
    (error,) = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    # The annotation says why, not only that it was refused.
    assert "no release in flight" in error
    text = summary.read_text(encoding="utf-8")
    assert "None" not in text


# -- reviewed plans ----------------------------------------------------------------------------


def test_plan_file_reviewed_then_applied(project: Project) -> None:
    to_state(project, "bumped")
    plan_file = project.base / "p.json"
    before, ledger = project.world(), project.ledger()
    dry = project.cli("rc", "--dry-run", "--plan-file", str(plan_file))
    assert dry.exit_code == 0, dry.stderr
    assert project.world() == before and project.ledger() == ledger
    reviewed = json.loads(plan_file.read_text(encoding="utf-8"))
    assert reviewed["step"] == "rc" and reviewed["tag"] == "v1.4.0-rc.1"

    applied = project.cli("rc", "--plan-file", str(plan_file), "--json")
    assert applied.exit_code == 0, applied.stderr
    data = doc(applied)
    assert data["status"] == "applied"
    assert [a["description"] for a in data["applied"]] == [
        e["description"] for e in reviewed["effects"]
    ]
    assert project.remote_tags()["v1.4.0-rc.1"] == project.head()


def test_plan_file_refused_when_the_repository_changed(project: Project) -> None:
    to_state(project, "bumped")
    plan_file = project.base / "p.json"
    assert project.cli("rc", "--dry-run", "--plan-file", str(plan_file)).exit_code == 0
    push_commit_elsewhere(project)
    before, ledger = project.world(), project.ledger()

    result = project.cli("rc", "--plan-file", str(plan_file))
    assert result.exit_code == 4, (result.stdout, result.stderr)
    assert "changed since the plan" in result.stderr
    assert "resume with" not in result.stderr  # nothing was applied: re-plan, do not resume
    assert project.world() == before
    assert project.ledger() == ledger

    as_json = project.cli("rc", "--plan-file", str(plan_file), "--json")
    assert as_json.exit_code == 4
    assert doc(as_json)["exit_code"] == 4
    assert project.world() == before
    assert "v1.4.0-rc.1" not in project.remote_tags()


def test_plan_file_for_another_step_is_a_usage_error(project: Project) -> None:
    to_state(project, "bumped")
    plan_file = project.base / "p.json"
    assert project.cli("rc", "--dry-run", "--plan-file", str(plan_file)).exit_code == 0
    result = project.cli("bump", "auto", "--plan-file", str(plan_file))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    missing = project.cli("rc", "--plan-file", str(project.base / "nope.json"))
    assert missing.exit_code == 2


# -- log and human text ------------------------------------------------------------------------


def test_log_lists_events_with_actor_and_kind(project: Project) -> None:
    empty = project.cli("log")
    assert empty.exit_code == 0
    assert "empty" in empty.stdout
    to_state(project, "candidate")
    result = project.cli("log")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert not any("lease_" in line for line in lines)  # half the ledger: shown with --all
    for kind in ("bumped", "rc_tagged"):
        assert any(kind in line and "Test Maintainer" in line for line in lines), kind
    every = project.cli("log", "--all").stdout.splitlines()
    for kind in ("lease_acquired", "bumped", "rc_tagged", "lease_released"):
        assert any(kind in line and "Test Maintainer" in line for line in every), kind
    rc_line = next(line for line in lines if "rc_tagged" in line)
    assert "v1.4.0-rc.1" in rc_line
    data = doc(project.cli("log", "--json"))
    assert [e["kind"] for e in data["events"] if not e["kind"].startswith("lease_")] == [
        "rc_tagged",
        "bumped",
    ]  # newest first
    assert all(e["actor"].startswith("Test Maintainer") for e in data["events"])


def test_human_text_says_what_happened_the_state_and_what_is_next(project: Project) -> None:
    result = project.cli("bump", "auto")
    assert result.exit_code == 0
    said = result.stdout + result.stderr
    assert "commit pyproject.toml" in said
    assert "push main to origin" in said
    assert "State: bumped (1.4.0)" in result.stdout
    assert "Next: rcflow rc" in result.stdout

    again = project.cli("bump", "auto")
    assert "Already done" in again.stdout
    assert "State: bumped (1.4.0)" in again.stdout

    rc = project.cli("rc")
    assert "push tag v1.4.0-rc.1 to origin" in rc.stdout + rc.stderr
    assert "State: candidate (v1.4.0-rc.1). Next: rcflow validate" in rc.stdout

    status = project.cli("status")
    assert "Last release: 1.3.0" in status.stdout
    assert "In flight:    1.4.0" in status.stdout
    assert "v1.4.0-rc.1" in status.stdout
    assert "Next:         rcflow validate" in status.stdout

    refused = project.cli("promote")
    assert "refused" in refused.stderr
    assert "state: candidate (v1.4.0-rc.1)" in refused.stderr


def test_human_output_is_one_line_per_problem_without_traceback(project: Project) -> None:
    project.write("pyproject.toml", "[project]\nname = 'demo'\n")
    project.commit("chore: drop the version")
    result = project.cli("bump", "auto")
    assert result.exit_code in (2, 3)
    assert "Traceback" not in result.stdout + result.stderr


def test_dry_run_in_a_real_process_changes_nothing(project: Project) -> None:
    before = project.world()
    result = project.run("bump", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "Dry run" in result.stdout
    assert project.world() == before
    assert project.ledger() == []
    assert project.git("status", "--porcelain") == ""


def test_a_parse_error_with_json_is_still_one_json_document(project: Project) -> None:
    result = project.run("--json", "rc", "--frob")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["error"] == "No such option: --frob"
    assert doc["exit_code"] == 2


def test_a_parse_error_without_json_is_clicks_usage_text(project: Project) -> None:
    result = project.run("rc", "--frob")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "No such option: --frob" in result.stderr


@pytest.mark.parametrize("command", ["log", "doctor", "status"])
def test_every_command_leaves_the_release_outputs_in_actions(
    project: Project, actions: tuple[Path, Path], command: str
) -> None:
    output, summary = actions
    to_state(project, "candidate")
    output.write_text("")
    summary.write_text("")

    assert project.cli(command).exit_code == 0

    outputs = read_outputs(output)
    assert (outputs["state"], outputs["tag"], outputs["rc"]) == ("candidate", "v1.4.0-rc.1", "1")
    assert summary.read_text().startswith(f"### rcflow {command}\n")
